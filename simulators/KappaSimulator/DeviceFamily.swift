import KappaCore

/// The JSON of four device families, imitated from their public documentation: each family's topic, nesting,
/// time format, strings and booleans, carrying the simulator's values. The gateway reads them through the
/// payload mapping `route(topicPrefix:)` gives, with no code (docs/payload-mapping.md).
///
/// The simulator's metric keys (`temperature`, `vibration_rms`, `energy_kwh`, …) are kept inside each family's
/// structure, so the stored metric is the key, or `<object>.<key>` where the family nests readings in a
/// sensor or component object (Tasmota, Shelly); the labels name the stored metric. Every family adds its
/// typical fields around them: a state string mapped to 1, booleans read as 0/1, strings left out, tags.
///
/// - Zigbee2MQTT, `zigbee2mqtt/{device}`: a flat object, `last_seen` as ISO 8601 with milliseconds (the
///   `advanced.last_seen: ISO_8601` setting), `linkquality` and the `update` object ignored, `"state":"ON"`
///   read as 1, `battery_low` as 0, other strings left out.
///   https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
/// - Tasmota, `tele/{device}/SENSOR`: `Time` as zone-less local time (UTC+01:00 here) with milliseconds
///   (Tasmota's `Time 4`), one sensor object per device (`SCD30`, `ANALOG`, `ENERGY`), `TempUnit` a tag.
///   https://tasmota.github.io/docs/MQTT/ ; milliseconds: arendst/Tasmota#8537.
/// - Shelly Gen2, `{device}/events/rpc`: a JSON-RPC `NotifyStatus`; the device in `src`, `params.ts` epoch
///   seconds with a fraction, one component object (`sensor:0`, `pm1:0`, `switch:0`) with its `id`; the
///   switch's `output` boolean and `source` string.
///   https://shelly-api-docs.shelly.cloud/gen2/General/Notifications
/// - The Things Stack, `v3/{application}/devices/{device}/up`: an uplink whose `decoded_payload` holds the
///   readings with `battery_ok` (a boolean) and `status` (a tag); `received_at` RFC 3339 with nanoseconds; the
///   first gateway of `rx_metadata` a tag.
///   https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/#uplink-messages
public enum DeviceFamily: String, CaseIterable, Sendable {
    case zigbee2mqtt
    case tasmota
    case shelly
    case ttn

    /// Tasmota's `Time` is the device's local time without a zone; the simulated devices are at UTC+01:00.
    public static let tasmotaUTCOffsetMinutes = 60
    /// The application id in The Things Stack topics (`{application id}@{tenant id}`).
    public static let thingsStackApplication = "kappa-sim@ttn"

    /// The topic a device publishes on (after the prefix, which ends in `/` or is empty).
    public func topic(prefix: String, device: String) -> String {
        switch self {
        case .zigbee2mqtt: "\(prefix)zigbee2mqtt/\(device)"
        case .tasmota: "\(prefix)tele/\(device)/SENSOR"
        case .shelly: "\(prefix)\(device)/events/rpc"
        case .ttn: "\(prefix)v3/\(Self.thingsStackApplication)/devices/\(device)/up"
        }
    }

    /// The route that maps this family's payloads (`prefix` ends in `/` or is empty).
    public func route(prefix: String) -> SimulatorRoute {
        switch self {
        case .zigbee2mqtt:
            SimulatorRoute(template: "\(prefix)zigbee2mqtt/{device}", format: .json,
                           mapping: "time=/last_seen;time_format=rfc3339;states=ON:1|OFF:0;ignore=update|linkquality")
        case .tasmota:
            SimulatorRoute(template: "\(prefix)tele/{device}/SENSOR", format: .json,
                           mapping: "time=/Time;time_format=local+01:00;tags=TempUnit")
        case .shelly:
            SimulatorRoute(template: "\(prefix){device}/events/rpc", format: .json,
                           mapping: "readings=/params;time=/params/ts;time_format=s;device=/src;ignore=id")
        case .ttn:
            SimulatorRoute(template: "\(prefix)v3/{application}/devices/{device}/up", format: .json,
                           mapping: "readings=/uplink_message/decoded_payload;time=$.received_at;time_format=rfc3339;tag.gateway=$.uplink_message.rx_metadata[0].gateway_ids.gateway_id;tags=status")
        }
    }

    /// The object the readings of a `kind` device sit in, where the family nests them.
    func container(_ kind: DeviceKind) -> String? {
        switch (self, kind) {
        case (.tasmota, .environment): "SCD30"
        case (.tasmota, .machine): "ANALOG"
        case (.tasmota, .power): "ENERGY"
        case (.shelly, .environment): "sensor:0"
        case (.shelly, .machine): "pm1:0"
        case (.shelly, .power): "switch:0"
        case (.zigbee2mqtt, _), (.ttn, _): nil
        }
    }

    /// The metric names the gateway stores for `kind`'s metrics, in their order.
    public func storedMetrics(_ kind: DeviceKind) -> [String] {
        let prefix = container(kind).map { "\($0)." } ?? ""
        return kind.metrics.map { prefix + $0.name }
    }

    /// Readings every message of a `kind` device carries besides the simulated metrics: the family's
    /// booleans and state strings as the route maps them (constant, so they add no anomalies).
    public func extraReadings(_ kind: DeviceKind) -> [(metric: String, value: Double)] {
        switch (self, kind) {
        case (.zigbee2mqtt, .environment): [("battery", 100), ("battery_low", 0)]
        case (.zigbee2mqtt, _): [("state", 1)]
        case (.tasmota, _): []
        case (.shelly, .power): [("switch:0.output", 1)]
        case (.shelly, _): []
        case (.ttn, _): [("battery_ok", 1)]
        }
    }

    /// The tags the route gives every reading of device number `index` (sorted by key, as readings keep them).
    public func tags(_ kind: DeviceKind, index: Int) -> [Tag] {
        switch self {
        case .zigbee2mqtt, .shelly: []
        case .tasmota: kind == .power ? [] : [Tag(key: "TempUnit", value: "C")]
        case .ttn:
            [Tag(key: "application", value: Self.thingsStackApplication), Tag(key: "gateway", value: Self.gateway(index)),
             Tag(key: "status", value: "ok")]
        }
    }

    static func gateway(_ index: Int) -> String { "kappa-sim-gw-\(index % 3 + 1)" }

    /// The payload of one tick. `counter` is the device's message number (The Things Stack's frame counter).
    func encode(device: String, index: Int, kind: DeviceKind, timestampMilliseconds: Int64, values: [Double], counter: Int,
                to bytes: inout [UInt8]) {
        switch self {
        case .zigbee2mqtt:
            bytes.append(UInt8(ascii: "{"))
            Self.appendMetrics(kind, values, to: &bytes)
            switch kind {
            case .environment: bytes.append(contentsOf: #","battery":100,"battery_low":false"#.utf8)
            case .machine: bytes.append(contentsOf: #","state":"ON","power_on_behavior":"previous""#.utf8)
            case .power: bytes.append(contentsOf: #","state":"ON","child_lock":"UNLOCK","power_on_behavior":"previous""#.utf8)
            }
            bytes.append(contentsOf: #","linkquality":"#.utf8)
            PayloadBytes.appendInteger(Int64(60 + (index * 37) % 160), to: &bytes)
            bytes.append(contentsOf: #","update":{"state":"idle","installed_version":16777241,"latest_version":16777241},"last_seen":""#.utf8)
            TimeBytes.appendCivil(milliseconds: timestampMilliseconds, offsetMinutes: 0, fractionDigits: 3, zone: "Z", to: &bytes)
            bytes.append(contentsOf: "\"}".utf8)

        case .tasmota:
            bytes.append(contentsOf: #"{"Time":""#.utf8)
            TimeBytes.appendCivil(milliseconds: timestampMilliseconds, offsetMinutes: Self.tasmotaUTCOffsetMinutes, fractionDigits: 3, zone: "", to: &bytes)
            bytes.append(contentsOf: "\",".utf8)
            PayloadBytes.appendJSONString(container(kind)!, to: &bytes)
            bytes.append(contentsOf: ":{".utf8)
            if kind == .power { bytes.append(contentsOf: #""TotalStartTime":"2026-01-01T00:00:00","#.utf8) }
            Self.appendMetrics(kind, values, to: &bytes)
            bytes.append(UInt8(ascii: "}"))
            if kind != .power { bytes.append(contentsOf: #","TempUnit":"C""#.utf8) }
            bytes.append(UInt8(ascii: "}"))

        case .shelly:
            bytes.append(contentsOf: #"{"src":"#.utf8)
            PayloadBytes.appendJSONString(device, to: &bytes)
            bytes.append(contentsOf: #","dst":"#.utf8)
            PayloadBytes.appendJSONString("\(device)/events", to: &bytes)
            bytes.append(contentsOf: #","method":"NotifyStatus","params":{"ts":"#.utf8)
            TimeBytes.appendEpochSeconds(milliseconds: timestampMilliseconds, to: &bytes)
            bytes.append(UInt8(ascii: ","))
            PayloadBytes.appendJSONString(container(kind)!, to: &bytes)
            bytes.append(contentsOf: #":{"id":0,"#.utf8)
            Self.appendMetrics(kind, values, to: &bytes)
            if kind == .power { bytes.append(contentsOf: #","output":true,"source":"init""#.utf8) }
            bytes.append(contentsOf: "}}}".utf8)

        case .ttn:
            let deviceEUI = Self.hex(UInt64(0x70B3_D57E_D000_0000) | UInt64(index), digits: 16)
            bytes.append(contentsOf: #"{"end_device_ids":{"device_id":"#.utf8)
            PayloadBytes.appendJSONString(device, to: &bytes)
            bytes.append(contentsOf: #","application_ids":{"application_id":"kappa-sim"},"dev_eui":""#.utf8)
            bytes.append(contentsOf: deviceEUI.utf8)
            bytes.append(contentsOf: #"","dev_addr":""#.utf8)
            bytes.append(contentsOf: Self.hex(UInt64(0x2601_0000) | UInt64(index & 0xFFFF), digits: 8).utf8)
            bytes.append(contentsOf: #""},"received_at":""#.utf8)
            TimeBytes.appendCivil(milliseconds: timestampMilliseconds, offsetMinutes: 0, fractionDigits: 9, zone: "Z", to: &bytes)
            bytes.append(contentsOf: #"","uplink_message":{"f_port":1,"f_cnt":"#.utf8)
            PayloadBytes.appendInteger(Int64(counter), to: &bytes)
            bytes.append(contentsOf: #","frm_payload":"AQIDBAUG","decoded_payload":{"#.utf8)
            Self.appendMetrics(kind, values, to: &bytes)
            bytes.append(contentsOf: #","battery_ok":true,"status":"ok"},"rx_metadata":[{"gateway_ids":{"gateway_id":""#.utf8)
            bytes.append(contentsOf: Self.gateway(index).utf8)
            bytes.append(contentsOf: #""},"rssi":"#.utf8)
            PayloadBytes.appendInteger(Int64(-70 - (index * 13) % 50), to: &bytes)
            bytes.append(contentsOf: #","snr":7.5}],"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":7,"coding_rate":"4/5"}},"frequency":"868100000"},"consumed_airtime":"0.061696s"}}"#.utf8)
        }
    }

    /// `"temperature":21.5,"humidity":48.2,…` with the simulator's metric keys.
    private static func appendMetrics(_ kind: DeviceKind, _ values: [Double], to bytes: inout [UInt8]) {
        for (position, (metric, value)) in zip(kind.metrics, values).enumerated() {
            if position > 0 { bytes.append(UInt8(ascii: ",")) }
            PayloadBytes.appendJSONString(metric.name, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            PayloadBytes.appendDecimal(value, to: &bytes)
        }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// Times written the way device families write them, straight into payload bytes.
enum TimeBytes {
    /// `2026-11-25T10:00:00.123Z` (zone "Z"), `2026-11-25T11:00:00.123` (zone "", local at `offsetMinutes`),
    /// with exactly `fractionDigits` digits of the second (3 or 9).
    static func appendCivil(milliseconds: Int64, offsetMinutes: Int, fractionDigits: Int, zone: String, to bytes: inout [UInt8]) {
        let local = milliseconds + Int64(offsetMinutes) * 60_000
        let civil = CivilTime(Timestamp(millisecondsSinceEpoch: local))
        func two(_ value: Int) {
            bytes.append(UInt8(ascii: "0") + UInt8(value / 10))
            bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
        }
        let year = civil.year
        two(year / 100)
        two(year % 100)
        bytes.append(UInt8(ascii: "-"))
        two(civil.month)
        bytes.append(UInt8(ascii: "-"))
        two(civil.day)
        bytes.append(UInt8(ascii: "T"))
        two(civil.hour)
        bytes.append(UInt8(ascii: ":"))
        two(civil.minute)
        bytes.append(UInt8(ascii: ":"))
        two(civil.second)
        bytes.append(UInt8(ascii: "."))
        var fraction = civil.nanosecond
        var divisor = 100_000_000
        for _ in 0..<fractionDigits {
            bytes.append(UInt8(ascii: "0") + UInt8(fraction / divisor))
            fraction %= divisor
            divisor /= 10
        }
        bytes.append(contentsOf: zone.utf8)
    }

    /// Epoch seconds with the milliseconds as a fraction, `1777636800.125` (no trailing zeros, none for whole seconds).
    static func appendEpochSeconds(milliseconds: Int64, to bytes: inout [UInt8]) {
        let seconds = milliseconds >= 0 ? milliseconds / 1_000 : (milliseconds - 999) / 1_000
        var remainder = Int(milliseconds - seconds * 1_000)
        PayloadBytes.appendInteger(seconds, to: &bytes)
        guard remainder != 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var divisor = 100
        while remainder != 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(remainder / divisor))
            remainder %= divisor
            divisor /= 10
        }
    }
}
