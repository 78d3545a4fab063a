/// The file formats `kappa import` reads, one reading source per line.
public enum ImportFormat: String, Sendable, CaseIterable {
    /// A header, then one row per time: long (`time`, `device`, `metric`, `value` in any order; `device` and
    /// `metric` may come from the command line instead) or wide (one column per metric); `,`, `;` or tab
    /// separated (see ``CSVOptions``); time as RFC 3339, a zone-less local time, or epoch s/ms/µs/ns.
    case csv
    /// One JSON telemetry payload per line, decoded as the gateway decodes a `json` topic.
    case jsonl
    /// InfluxDB line protocol, decoded as the gateway decodes a `line_protocol` topic.
    case line
}
