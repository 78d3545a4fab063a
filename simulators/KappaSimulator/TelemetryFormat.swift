/// How the simulator shapes its messages. Every format is one the gateway's decoders accept.
public enum TelemetryFormat: String, CaseIterable, Sendable {
    /// `devices/{device}/telemetry`: `{"ts": <epoch ms>, "temperature": 21.5, ...}`, one message per tick.
    case json
    /// `devices/{device}/{metric}`: a bare number per metric and tick (the gateway stamps receive time).
    case number
    /// `devices/{device}/telemetry`: `{"ts": <epoch ms>, "values": {"temperature": 21.5, ...}}`.
    case values
    /// `devices/{device}/telemetry`: a JSON array of `json` objects, several ticks per message.
    case batch
    /// InfluxDB line protocol, one line per metric (`temperature,device=env-00042 value=21.5 <epoch ns>`),
    /// on the line topic. The gateway's default routes do not take line protocol: it needs a route for the
    /// line topic with format `line_protocol`.
    case line
}
