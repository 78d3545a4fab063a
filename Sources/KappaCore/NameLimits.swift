/// Bounds on the names a reading carries (device, metric, tag keys and values), checked at intake so that
/// a name PostgreSQL cannot store or index becomes a dead letter instead of stopping the processors.
///
/// Why these numbers: PostgreSQL refuses a btree row over ~2,700 bytes, and the output tables index
/// device and metric together (with a detector name and times beside them), so device + metric stay far
/// below that; tags are stored whole in one jsonb value, so their count is bounded too. PostgreSQL `text`
/// cannot hold U+0000, and control characters in names only ever come from broken or hostile publishers.
public struct NameLimits: Hashable, Sendable {
    public var maxDeviceBytes: Int
    public var maxMetricBytes: Int
    public var maxTagKeyBytes: Int
    public var maxTagValueBytes: Int
    /// Tags on one reading, from the topic and (line protocol) the line together.
    public var maxTags: Int

    public init(maxDeviceBytes: Int = 256, maxMetricBytes: Int = 128, maxTagKeyBytes: Int = 128, maxTagValueBytes: Int = 256, maxTags: Int = 32) {
        self.maxDeviceBytes = maxDeviceBytes
        self.maxMetricBytes = maxMetricBytes
        self.maxTagKeyBytes = maxTagKeyBytes
        self.maxTagValueBytes = maxTagValueBytes
        self.maxTags = maxTags
    }

    public static let `default` = NameLimits()

    /// What is wrong with a name, or nil where it is acceptable: not empty, at most `maxBytes` UTF-8
    /// bytes, no control character (U+0000–U+001F, U+007F–U+009F). A Swift `String` is always valid
    /// UTF-8; the decoders reject ill-formed bytes before names are made (`invalid_utf8`), and MQTT
    /// brokers reject topics that are not UTF-8.
    public static func flaw(in name: String, maxBytes: Int) -> String? {
        let utf8 = name.utf8
        if utf8.isEmpty { return "is empty" }
        if utf8.count > maxBytes { return "is \(utf8.count) bytes long, over the limit of \(maxBytes)" }
        var offset = 0
        var previous: UInt8 = 0
        for byte in utf8 {
            // C1 controls are U+0080–U+009F, encoded C2 80 … C2 9F.
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte >= 0x80 && byte <= 0x9F) {
                let at = byte < 0x80 ? offset : offset - 1
                return "has the control character U+\(hex4(UInt32(byte))) at byte \(at)"
            }
            previous = byte
            offset += 1
        }
        return nil
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension NameLimits {
    /// The problem with a topic's device, metric or tags, or nil: checked once per message, before decoding.
    func problem(with match: TopicMatch) -> DecodeProblem? {
        if let flaw = Self.flaw(in: match.device, maxBytes: maxDeviceBytes) {
            return DecodeProblem(reason: .invalidDevice, message: "the device id \(Self.excerpt(match.device)) in the topic \(flaw)")
        }
        if let metric = match.metric, let flaw = Self.flaw(in: metric, maxBytes: maxMetricBytes) {
            return DecodeProblem(reason: .invalidMetric, message: "the metric name \(Self.excerpt(metric)) in the topic \(flaw)")
        }
        return tagsProblem(match.tags, in: "the topic")
    }

    /// The problem with one reading's tags, or nil.
    func tagsProblem(_ tags: [Tag], in place: String) -> DecodeProblem? {
        if tags.count > maxTags {
            return DecodeProblem(reason: .invalidTag, message: "\(place) gives \(tags.count) tags, over the limit of \(maxTags)")
        }
        for tag in tags {
            if let flaw = Self.flaw(in: tag.key, maxBytes: maxTagKeyBytes) {
                return DecodeProblem(reason: .invalidTag, message: "the tag key \(Self.excerpt(tag.key)) in \(place) \(flaw)")
            }
            if let flaw = Self.flaw(in: tag.value, maxBytes: maxTagValueBytes) {
                return DecodeProblem(reason: .invalidTag, message: "the value of tag '\(Self.excerpt(tag.key, quoted: false))' in \(place) \(flaw)", field: tag.key)
            }
        }
        return nil
    }

    /// Removes the readings from `first` on whose names break the limits, one problem per reading
    /// removed. With a `match`, the topic's names were checked already (`problem(with:)`), so only what the
    /// payload named is looked at: metric names always, device and tags where they differ from the topic's.
    /// Without one (readings no topic template made), every name is.
    func removeInvalidNames(in readings: inout [Reading], from first: Int, match: TopicMatch?, problems: inout [DecodeProblem]) {
        var kept = first
        for position in first..<readings.count {
            let reading = readings[position]
            var problem: DecodeProblem?
            if match?.metric == nil || reading.metric != match?.metric, let flaw = Self.flaw(in: reading.metric, maxBytes: maxMetricBytes) {
                problem = DecodeProblem(reason: .invalidMetric, message: "the metric name \(Self.excerpt(reading.metric)) \(flaw)", field: nil)
            } else if reading.device != match?.device, let flaw = Self.flaw(in: reading.device, maxBytes: maxDeviceBytes) {
                problem = DecodeProblem(reason: .invalidDevice, message: "the device id \(Self.excerpt(reading.device)) in the payload \(flaw)", field: reading.metric)
            } else if reading.tags != match?.tags {
                problem = tagsProblem(reading.tags, in: "the payload of metric '\(Self.excerpt(reading.metric, quoted: false))'")
            }
            if let problem {
                problems.append(problem)
            } else {
                if kept != position { readings[kept] = reading }
                kept += 1
            }
        }
        readings.removeSubrange(kept...)
    }

    /// A name as shown in a problem message: its first 40 bytes, control and non-ASCII bytes escaped.
    static func excerpt(_ name: String, quoted: Bool = true) -> String {
        let text = Array(name.utf8).withUnsafeBytes { PayloadExcerpt.quote($0, from: 0, to: $0.count) }
        return quoted ? "'\(text)'" : text
    }
}
