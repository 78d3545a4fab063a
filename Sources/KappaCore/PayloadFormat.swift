/// How a topic's payloads are decoded.
public enum PayloadFormat: String, Hashable, Sendable, CaseIterable {
    /// A JSON object of `ts` and numeric fields, `{"ts": …, "values": {…}}`, or an array of those.
    /// On a template that names the metric, a bare JSON number or boolean is accepted too.
    case json
    /// A bare number (`21.5`, `-3e2`, `true`/`false`) on a template that names the metric.
    case number
    /// InfluxDB line protocol, one reading per field (see `LineProtocolDecoder`).
    case lineProtocol = "line_protocol"
}
