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
        // Every reading's names pass here: a loop over the contiguous bytes, not the UTF-8 view's iterator.
        let control = utf8.withContiguousStorageIfAvailable { firstControlCharacter(in: $0) } ?? firstControlCharacter(in: utf8)
        guard let (byte, at) = control else { return nil }
        return "has the control character U+\(hex4(UInt32(byte))) at byte \(at)"
    }

    /// The first control character's last byte and the offset where it starts.
    @inline(__always)
    private static func firstControlCharacter(in bytes: some Sequence<UInt8>) -> (byte: UInt8, offset: Int)? {
        var offset = 0
        var previous: UInt8 = 0
        for byte in bytes {
            // C1 controls are U+0080–U+009F, encoded C2 80 … C2 9F.
            if byte < 0x20 || byte == 0x7F || (previous == 0xC2 && byte >= 0x80 && byte <= 0x9F) {
                return (byte, byte < 0x80 ? offset : offset - 1)
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
    /// `place` is only worked out for a problem: every mapped reading's tags are checked.
    func tagsProblem(_ tags: [Tag], in place: @autoclosure () -> String) -> DecodeProblem? {
        if tags.count > maxTags {
            return DecodeProblem(reason: .invalidTag, message: "\(place()) gives \(tags.count) tags, over the limit of \(maxTags)")
        }
        for tag in tags {
            if let flaw = Self.flaw(in: tag.key, maxBytes: maxTagKeyBytes) {
                return DecodeProblem(reason: .invalidTag, message: "the tag key \(Self.excerpt(tag.key)) in \(place()) \(flaw)")
            }
            if let flaw = Self.flaw(in: tag.value, maxBytes: maxTagValueBytes) {
                return DecodeProblem(reason: .invalidTag, message: "the value of tag '\(Self.excerpt(tag.key, quoted: false))' in \(place()) \(flaw)", field: tag.key)
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
        var checked = CheckedNames(metric: match?.metric, device: match?.device, tags: match?.tags)
        for position in first..<readings.count {
            if let problem = problem(with: readings[position], besides: &checked) {
                problems.append(problem)
                continue
            }
            if kept != position { readings[kept] = readings[position] }
            kept += 1
        }
        readings.removeSubrange(kept...)
    }

    /// Names known to be good: the topic's, and the payload's last device and tags, which the readings of
    /// one object (or one Sparkplug message) share, so that each is checked once, not per reading.
    private struct CheckedNames {
        var metric: String?
        var device: String?
        var tags: [Tag]?
        var payloadDevice: String?
        var payloadTags: [Tag]?
    }

    private func problem(with reading: Reading, besides checked: inout CheckedNames) -> DecodeProblem? {
        if reading.metric != checked.metric, let flaw = Self.flaw(in: reading.metric, maxBytes: maxMetricBytes) {
            return DecodeProblem(reason: .invalidMetric, message: "the metric name \(Self.excerpt(reading.metric)) \(flaw)", field: nil)
        }
        if reading.device != checked.device, reading.device != checked.payloadDevice {
            if let flaw = Self.flaw(in: reading.device, maxBytes: maxDeviceBytes) {
                return DecodeProblem(reason: .invalidDevice, message: "the device id \(Self.excerpt(reading.device)) in the payload \(flaw)", field: reading.metric)
            }
            checked.payloadDevice = reading.device
        }
        if reading.tags != checked.tags, reading.tags != checked.payloadTags {
            if let problem = tagsProblem(reading.tags, in: "the payload of metric '\(Self.excerpt(reading.metric, quoted: false))'") {
                return problem
            }
            checked.payloadTags = reading.tags
        }
        return nil
    }

    /// A name as shown in a problem message: its first 40 bytes, control and non-ASCII bytes escaped.
    static func excerpt(_ name: String, quoted: Bool = true) -> String {
        let text = Array(name.utf8).withUnsafeBytes { PayloadExcerpt.quote($0, from: 0, to: $0.count) }
        return quoted ? "'\(text)'" : text
    }
}
