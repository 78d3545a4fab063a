/// A topic shape with named levels, such as `sites/{site}/{device}/{metric}`.
///
/// Grammar, one rule per `/`-separated level:
/// - `{device}` (required, once) captures the device id; `{metric}` (optional) the metric name;
///   any other `{name}` (letters, digits, `_`, `-`) becomes a tag `name=value` on every reading.
/// - `{name...}` captures the rest of the topic, slashes included, and may only be the last level
///   (its subscription filter is `#`). It needs at least one level to capture.
/// - Anything else is a literal that must equal the topic level exactly. Literals may not contain
///   `+`, `#`, `{` or `}`; a placeholder must fill its whole level (`dev-{device}` is rejected).
/// - `$share/<group>/…` prefixes are the bridge's business and are rejected here.
///
/// A placeholder never matches an empty level, and, as for MQTT wildcards, a placeholder in the first
/// level never matches a topic starting with `$` (such as `$SYS/…`).
public struct TopicTemplate: Hashable, Sendable, CustomStringConvertible {
    /// One level of a template.
    public enum Level: Hashable, Sendable {
        case literal(String)
        /// A single level captured under the name.
        case capture(String)
        /// The rest of the topic captured under the name.
        case captureRest(String)
    }

    /// The text the template was parsed from.
    public let text: String
    public let levels: [Level]
    /// The MQTT subscription filter that delivers every topic this template can match.
    public let subscriptionFilter: String

    // Precomputed for matching: the byte form of literals and where the named captures sit.
    @usableFromInline let literalBytes: [[UInt8]?]
    @usableFromInline let deviceLevel: Int
    @usableFromInline let metricLevel: Int?
    /// Levels of tag captures, in the order of their names (so tags come out sorted by key).
    @usableFromInline let tagLevels: [(level: Int, key: String)]

    public init(_ text: String) throws(TopicTemplateError) {
        func fail(_ code: TopicTemplateError.Code, _ level: Int?, _ detail: String) -> TopicTemplateError {
            TopicTemplateError(code: code, template: text, level: level, detail: detail)
        }
        if text.isEmpty { throw fail(.empty, nil, "the template is empty") }
        if text.utf8.contains(0) { throw fail(.nullCharacter, nil, "topics may not contain U+0000") }
        if text.hasPrefix("$share/") {
            throw fail(.sharedSubscription, 1, "leave out the $share/<group>/ prefix; the bridge adds it")
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        var levels: [Level] = []
        var names: Set<String> = []
        for (index, part) in parts.enumerated() {
            let levelNumber = index + 1
            let opens = part.filter { $0 == "{" }.count
            let closes = part.filter { $0 == "}" }.count
            if opens == 0 && closes == 0 {
                if part.contains("+") || part.contains("#") {
                    throw fail(.wildcardCharacter, levelNumber, "'\(part)' contains an MQTT wildcard; use a {name} placeholder")
                }
                levels.append(.literal(String(part)))
                continue
            }
            guard opens == 1, closes == 1, part.first == "{", part.last == "}" else {
                if opens != closes || opens > 1 {
                    throw fail(.unbalancedBrace, levelNumber, "'\(part)' has unbalanced or repeated braces")
                }
                throw fail(.partialLevel, levelNumber, "'\(part)': a placeholder must fill its whole level")
            }
            var name = part.dropFirst().dropLast()
            let capturesRest = name.hasSuffix("...")
            if capturesRest { name = name.dropLast(3) }
            guard !name.isEmpty,
                  name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || Self.isAlphanumeric($0) })
            else {
                throw fail(.invalidName, levelNumber, "placeholder name '\(name)' must be letters, digits, '_' or '-'")
            }
            let key = String(name)
            guard names.insert(key).inserted else {
                throw fail(.duplicateName, levelNumber, "placeholder {\(key)} appears twice")
            }
            if capturesRest && index != parts.count - 1 {
                throw fail(.multiLevelNotLast, levelNumber, "{\(key)...} captures the rest of the topic and must be the last level")
            }
            levels.append(capturesRest ? .captureRest(key) : .capture(key))
        }
        guard names.contains("device") else {
            throw fail(.missingDevice, nil, "it needs a {device} placeholder")
        }
        self.init(text: text, levels: levels)
    }

    private init(text: String, levels: [Level]) {
        self.text = text
        self.levels = levels
        var filter: [String] = []
        var literalBytes: [[UInt8]?] = []
        var deviceLevel = 0
        var metricLevel: Int?
        var tags: [(level: Int, key: String)] = []
        for (index, level) in levels.enumerated() {
            switch level {
            case .literal(let literal):
                filter.append(literal)
                literalBytes.append(Array(literal.utf8))
            case .capture(let name), .captureRest(let name):
                if case .captureRest = level { filter.append("#") } else { filter.append("+") }
                literalBytes.append(nil)
                switch name {
                case "device": deviceLevel = index
                case "metric": metricLevel = index
                default: tags.append((index, name))
                }
            }
        }
        self.subscriptionFilter = filter.joined(separator: "/")
        self.literalBytes = literalBytes
        self.deviceLevel = deviceLevel
        self.metricLevel = metricLevel
        self.tagLevels = tags.sorted { $0.key < $1.key }
    }

    /// Whether the template names the metric (so payloads may be bare numbers).
    public var namesMetric: Bool { metricLevel != nil }

    public var description: String { text }

    public static func == (lhs: TopicTemplate, rhs: TopicTemplate) -> Bool { lhs.levels == rhs.levels }
    public func hash(into hasher: inout Hasher) { hasher.combine(levels) }

    /// The device, metric and tags named by `topic`, or nil where the topic does not have this shape.
    public func match(topic: String) -> TopicCaptures? {
        var topic = topic
        return topic.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            return match(TopicLevels(raw))
        }
    }

    @usableFromInline
    func match(_ topic: TopicLevels) -> TopicCaptures? {
        let capturesRest: Bool
        if case .captureRest = levels[levels.count - 1] { capturesRest = true } else { capturesRest = false }
        guard topic.count == levels.count || (capturesRest && topic.count > levels.count) else { return nil }
        for index in levels.indices {
            if let literal = literalBytes[index] {
                guard topic[index].elementsEqual(literal) else { return nil }
            } else {
                let captured = topic[index]
                if captured.isEmpty { return nil }
                if index == 0 && captured[0] == UInt8(ascii: "$") { return nil }
            }
        }
        func text(of level: Int) -> String {
            if case .captureRest = levels[level] { return String(decoding: topic.rest(from: level), as: UTF8.self) }
            return String(decoding: topic[level], as: UTF8.self)
        }
        var tags: [Tag] = []
        if !tagLevels.isEmpty {
            tags.reserveCapacity(tagLevels.count)
            for (level, key) in tagLevels { tags.append(Tag(key: key, value: text(of: level))) }
        }
        return TopicCaptures(device: text(of: deviceLevel), metric: metricLevel.map(text(of:)), tags: tags)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// What a topic says about its readings.
public struct TopicCaptures: Hashable, Sendable {
    public var device: String
    /// Nil where the template has no `{metric}`; metric names then come from the payload.
    public var metric: String?
    /// Captures other than device and metric, sorted by key.
    public var tags: [Tag]

    public init(device: String, metric: String?, tags: [Tag]) {
        self.device = device
        self.metric = metric
        self.tags = tags
    }
}
