/// Builds the Prometheus text exposition format (version 0.0.4), one family at a time.
public struct PrometheusText: Sendable {
    public private(set) var text = ""

    public enum Kind: String, Sendable {
        case counter, gauge
    }

    public init() {}

    /// Adds a metric family: its HELP and TYPE lines, then one sample per label set.
    public mutating func family(_ name: String, _ kind: Kind, help: String, samples: [(labels: [(String, String)], value: Double)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        for sample in samples {
            text += name
            if !sample.labels.isEmpty {
                text += "{" + sample.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " \(Self.format(sample.value))\n"
        }
    }

    public mutating func family(_ name: String, _ kind: Kind, help: String, value: Double) {
        family(name, kind, help: help, samples: [([], value)])
    }

    public static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
