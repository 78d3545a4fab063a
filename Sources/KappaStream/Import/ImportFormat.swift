/// The file formats `kappa import` reads, one reading source per line.
public enum ImportFormat: String, Sendable, CaseIterable {
    /// A header naming the columns `device`, `metric`, `time`, `value` (any order; `device` and `metric`
    /// may come from the command line instead); time as RFC 3339 or epoch seconds.
    case csv
    /// One JSON telemetry payload per line, decoded as the gateway decodes a `json` topic.
    case jsonl
    /// InfluxDB line protocol, decoded as the gateway decodes a `line_protocol` topic.
    case line
}
