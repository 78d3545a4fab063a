/// How the simulator shapes its messages. Every format is one the gateway decodes: the first five with its
/// default decoders, the device families through the payload mapping `SimulatorRoutes` prints, `sparkplug`
/// with `--sparkplug`.
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
    /// Zigbee2MQTT's device state on `zigbee2mqtt/{device}` (see `DeviceFamily`).
    case zigbee2mqtt
    /// Tasmota's sensor telemetry on `tele/{device}/SENSOR` (see `DeviceFamily`).
    case tasmota
    /// Shelly Gen2 `NotifyStatus` notifications on `{device}/events/rpc` (see `DeviceFamily`).
    case shelly
    /// The Things Stack uplinks on `v3/{application}/devices/{device}/up` (see `DeviceFamily`).
    case ttn
    /// Sparkplug B: the fleet as edge nodes and their devices (see `SparkplugFleetLayout`).
    case sparkplug

    /// The device family whose JSON this format imitates, if it is one.
    public var family: DeviceFamily? { DeviceFamily(rawValue: rawValue) }
}
