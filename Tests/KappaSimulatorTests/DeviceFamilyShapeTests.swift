import Foundation
import KappaCore
import KappaSimulator
import Testing

/// Each family format's payloads against the structure the family documents (the same documents
/// Tests/KappaCoreTests/PayloadMappingCorpusTests.swift cites), read with Foundation's JSON parser rather than
/// Kappa's, so the shape is checked independently of the decoder that maps it.
@Suite("Fleet: device family payloads have the family's documented structure")
struct DeviceFamilyShapeTests {
    /// Messages of every kind: three devices (env, machine, power), no chaos.
    func messages(_ format: TelemetryFormat) -> [SimulatedMessage] {
        let scenario = FleetScenario(
            seed: 3, deviceCount: 3, start: Scenarios.start, end: Scenarios.start.adding(nanoseconds: 600 * 1_000_000_000),
            format: format, topicPrefix: "site", cadence: 5...10
        )
        return Fleet.generate(scenario, limit: 60).messages
    }

    /// A JSON value as Foundation's decoder reads it: a boolean is never a number, nor a number a boolean.
    enum JSON: Decodable {
        case bool(Bool), number(Double), string(String), array([JSON]), object([String: JSON]), null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([JSON].self) { self = .array(value) }
            else { self = .object(try container.decode([String: JSON].self)) }
        }

        subscript(key: String) -> JSON? {
            if case .object(let members) = self { members[key] } else { nil }
        }
        var string: String? { if case .string(let text) = self { text } else { nil } }
        var number: Double? { if case .number(let value) = self { value } else { nil } }
        var isNumber: Bool { number != nil }
        var isBoolean: Bool { if case .bool = self { true } else { false } }
        var isString: Bool { string != nil }
        var keys: [String] { if case .object(let members) = self { Array(members.keys) } else { [] } }
        var elements: [JSON] { if case .array(let elements) = self { elements } else { [] } }
    }

    func object(_ message: SimulatedMessage) throws -> JSON {
        let value = try JSONDecoder().decode(JSON.self, from: Data(message.payload))
        guard case .object = value else { throw ShapeError(message: "\(message.topic): not an object") }
        return value
    }

    struct ShapeError: Error { var message: String }

    func matches(_ value: JSON?, _ pattern: String) -> Bool {
        guard let text = value?.string else { return false }
        return text.range(of: "^\(pattern)$", options: .regularExpression) != nil
    }

    func kind(_ message: SimulatedMessage) -> DeviceKind {
        DeviceKind.allCases.first { message.device.hasPrefix($0.rawValue + "-") }!
    }

    func rfc3339(_ value: JSON?) -> Timestamp? {
        value?.string.flatMap { Timestamp(rfc3339: $0) }
    }

    // https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html: zigbee2mqtt/FRIENDLY_NAME, one flat
    // object of the device's state, `linkquality`, an `update` object, `last_seen` as ISO 8601 with milliseconds.
    @Test("Zigbee2MQTT: zigbee2mqtt/<friendly name>, a flat state object, last_seen ISO 8601 in ms, ON/OFF state, booleans")
    func zigbee2MQTT() throws {
        for message in messages(.zigbee2mqtt) {
            #expect(message.topic == "site/zigbee2mqtt/\(message.device)")
            let state = try object(message)
            for metric in kind(message).metrics { #expect(state[metric.name]?.isNumber == true, "\(metric.name) in \(state)") }
            #expect(matches(state["last_seen"], #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#))
            #expect(rfc3339(state["last_seen"]) == message.readings.first?.time)
            #expect(state["linkquality"]?.isNumber == true)
            #expect(state["update"]?["state"]?.string == "idle")
            switch kind(message) {
            case .environment: #expect(state["battery_low"]?.isBoolean == true && state["battery"]?.isNumber == true)
            case .machine, .power: #expect(state["state"]?.string == "ON" && state["power_on_behavior"]?.isString == true)
            }
        }
    }

    // https://tasmota.github.io/docs/MQTT/: tele/%topic%/SENSOR, `Time` the local time without a zone (with
    // milliseconds under `Time 4`), one object per sensor, `TempUnit` beside temperature sensors.
    @Test("Tasmota: tele/<topic>/SENSOR, Time as zone-less local time, a sensor object, TempUnit")
    func tasmota() throws {
        for message in messages(.tasmota) {
            #expect(message.topic == "site/tele/\(message.device)/SENSOR")
            let telemetry = try object(message)
            #expect(matches(telemetry["Time"], #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"#))
            let local = try #require(telemetry["Time"]?.string.flatMap { Timestamp(rfc3339: $0 + "+01:00") })
            #expect(local == message.readings.first?.time)
            let sensorName = try #require(["SCD30", "ANALOG", "ENERGY"].first { telemetry[$0] != nil })
            let sensor = try #require(telemetry[sensorName])
            for metric in kind(message).metrics { #expect(sensor[metric.name]?.isNumber == true) }
            #expect(kind(message) == .power ? sensor["TotalStartTime"]?.isString == true : telemetry["TempUnit"]?.string == "C")
        }
    }

    // https://shelly-api-docs.shelly.cloud/gen2/General/Notifications: a JSON-RPC notification on
    // <topic prefix>/events/rpc with `src`, `dst`, `method` NotifyStatus and `params.ts` in epoch seconds with a
    // fraction; each component as `<type>:<id>` with its `id`.
    @Test("Shelly Gen2: <device>/events/rpc, NotifyStatus with src, params.ts in epoch seconds, <type>:<id> components")
    func shelly() throws {
        for message in messages(.shelly) {
            #expect(message.topic == "site/\(message.device)/events/rpc")
            let notification = try object(message)
            #expect(notification["src"]?.string == message.device)
            #expect(notification["method"]?.string == "NotifyStatus")
            #expect(notification["dst"]?.isString == true)
            let params = try #require(notification["params"])
            let seconds = try #require(params["ts"]?.number)
            let expected = try #require(message.readings.first?.time.nanosecondsSinceEpoch)
            #expect(abs(seconds * 1e9 - Double(expected)) < 1e6)
            let componentName = try #require(params.keys.first { $0 != "ts" })
            #expect(componentName.range(of: #"^[a-z0-9]+:\d+$"#, options: .regularExpression) != nil)
            let component = try #require(params[componentName])
            #expect(component["id"]?.number == 0)
            for metric in kind(message).metrics { #expect(component[metric.name]?.isNumber == true) }
            if kind(message) == .power { #expect(component["output"]?.isBoolean == true && component["source"]?.isString == true) }
        }
    }

    // https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/#uplink-messages:
    // v3/{application id}@{tenant id}/devices/{device id}/up; `end_device_ids`, `received_at` RFC 3339 with
    // nanoseconds, `uplink_message` with `f_port`, `f_cnt`, `frm_payload`, `decoded_payload`, `rx_metadata`.
    @Test("The Things Stack: v3/<app>@<tenant>/devices/<id>/up, end_device_ids, received_at in ns, decoded_payload, rx_metadata")
    func thingsStack() throws {
        var frameCounters: [String: [Int]] = [:]
        for message in messages(.ttn) {
            #expect(message.topic == "site/v3/kappa-sim@ttn/devices/\(message.device)/up")
            let uplink = try object(message)
            let ids = try #require(uplink["end_device_ids"])
            #expect(ids["device_id"]?.string == message.device)
            #expect(matches(ids["dev_eui"], "[0-9A-F]{16}"))
            #expect(matches(uplink["received_at"], #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"#))
            #expect(rfc3339(uplink["received_at"]) == message.readings.first?.time)
            let body = try #require(uplink["uplink_message"])
            #expect(body["f_port"]?.number == 1 && body["frm_payload"]?.isString == true)
            frameCounters[message.device, default: []].append(Int(try #require(body["f_cnt"]?.number)))
            let decoded = try #require(body["decoded_payload"])
            for metric in kind(message).metrics { #expect(decoded[metric.name]?.isNumber == true) }
            #expect(decoded["battery_ok"]?.isBoolean == true && decoded["status"]?.string == "ok")
            let gateways = try #require(body["rx_metadata"]?.elements)
            #expect(gateways.first?["gateway_ids"]?["gateway_id"]?.isString == true)
        }
        #expect(frameCounters.count == 3)
        #expect(frameCounters.values.allSatisfy { $0 == Array(1...$0.count) })
    }

    @Test("the labels name the device and metric the gateway stores for each format")
    func labelsNameStoredSeries() throws {
        for format in [TelemetryFormat.tasmota, .shelly, .sparkplug] {
            let scenario = FleetScenario(
                seed: 5, deviceCount: 6, start: Scenarios.start, end: Scenarios.start.adding(nanoseconds: 6 * 3_600 * 1_000_000_000),
                format: format, cadence: 5...10, anomalyRate: 0.02
            )
            let generated = Fleet.generate(scenario, limit: 100_000)
            let series = Set(generated.messages.flatMap(\.readings).map { "\($0.device)|\($0.metric)" })
            let devices = Set(generated.messages.flatMap(\.readings).map(\.device))
            let labels = generated.labels.filter { if case .anomaly = $0.kind { true } else { false } }
            try #require(labels.count > 5, "\(format)")
            for label in labels {
                #expect(label.metric == "*" ? devices.contains(label.device) : series.contains("\(label.device)|\(label.metric)"), "\(format): \(label)")
            }
        }
    }
}
