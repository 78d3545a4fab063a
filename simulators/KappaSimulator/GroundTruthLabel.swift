import KappaCore

/// One injected event, as written to the ground-truth file: one JSON object per line,
///
/// `{"device":"env-00042","metric":"temperature","kind":"spike","start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:00:00Z"}`
///
/// or one CSV row under the header `csvHeader` (the same fields, empty where they do not apply):
///
/// `env-00042,temperature,spike,2026-11-25T10:00:00Z,2026-11-25T10:00:00Z,,,`
///
/// - `metric` is `*` where the whole device or message is concerned (dropout and the chaos kinds).
/// - `start`/`end` are RFC 3339 UTC: the first and last affected reading's true event time; for `late`,
///   the event time and the (simulated) time it was finally sent; for `malformed`/`oversized`, the send time.
/// - `topic` (chaos kinds), `reason` (the dead-letter reason the gateway should give a malformed or
///   oversized message) and `offset_ms` (clock_skew: device clock minus true time) appear where they apply.
public struct GroundTruthLabel: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case anomaly(AnomalyKind)
        case chaos(ChaosKind)

        public var name: String {
            switch self {
            case .anomaly(let kind): kind.rawValue
            case .chaos(let kind): kind.rawValue
            }
        }
    }

    public var device: String
    public var metric: String
    public var kind: Kind
    public var start: Timestamp
    public var end: Timestamp
    public var topic: String?
    public var reason: DeadLetterReason?
    public var offsetMilliseconds: Int64?

    public init(
        device: String, metric: String, kind: Kind, start: Timestamp, end: Timestamp,
        topic: String? = nil, reason: DeadLetterReason? = nil, offsetMilliseconds: Int64? = nil
    ) {
        self.device = device
        self.metric = metric
        self.kind = kind
        self.start = start
        self.end = end
        self.topic = topic
        self.reason = reason
        self.offsetMilliseconds = offsetMilliseconds
    }

    /// The first line of a CSV ground-truth file. The anomaly evaluation needs the first five columns; the
    /// others say more about chaos labels.
    public static let csvHeader = "device,metric,kind,start,end,topic,reason,offset_ms"

    /// The label as one CSV row (RFC 4180: a field with a comma, quote or line break is quoted), no newline.
    public var csvLine: String {
        let fields = [
            device, metric, kind.name, CivilTime(start).rfc3339, CivilTime(end).rfc3339,
            topic ?? "", reason?.rawValue ?? "", offsetMilliseconds.map { "\($0)" } ?? "",
        ]
        return fields.map(Self.csvField).joined(separator: ",")
    }

    private static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        var quoted = "\""
        for character in text {
            if character == "\"" { quoted.append("\"") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// The label as one line of the ground-truth file, without the newline.
    public var jsonLine: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160)
        bytes.append(contentsOf: #"{"device":"#.utf8)
        PayloadBytes.appendJSONString(device, to: &bytes)
        bytes.append(contentsOf: #","metric":"#.utf8)
        PayloadBytes.appendJSONString(metric, to: &bytes)
        bytes.append(contentsOf: #","kind":""#.utf8)
        bytes.append(contentsOf: kind.name.utf8)
        bytes.append(contentsOf: #"","start":""#.utf8)
        bytes.append(contentsOf: CivilTime(start).rfc3339.utf8)
        bytes.append(contentsOf: #"","end":""#.utf8)
        bytes.append(contentsOf: CivilTime(end).rfc3339.utf8)
        bytes.append(UInt8(ascii: "\""))
        if let topic {
            bytes.append(contentsOf: #","topic":"#.utf8)
            PayloadBytes.appendJSONString(topic, to: &bytes)
        }
        if let reason {
            bytes.append(contentsOf: #","reason":""#.utf8)
            bytes.append(contentsOf: reason.rawValue.utf8)
            bytes.append(UInt8(ascii: "\""))
        }
        if let offsetMilliseconds {
            bytes.append(contentsOf: #","offset_ms":"#.utf8)
            PayloadBytes.appendInteger(offsetMilliseconds, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
