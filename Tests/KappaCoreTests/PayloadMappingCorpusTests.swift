import KappaCore
import Testing

/// Payloads of four device families, written from their public documentation with invented values, each
/// decoded through the route docs/payload-mapping.md gives for it: configuration only, no code.
@Suite("Payload mapping: device families by configuration")
struct PayloadMappingCorpusTests {
    /// Routes a message as the bridge does: the router matches the topic, the decoder reads the payload.
    func decodeRouted(_ topic: String, _ payload: String, route: TopicRoute, at receivedAt: Timestamp) throws -> Decoded {
        let match = try #require(TopicRouter(routes: [route]).match(topic: topic))
        var result = Decoded()
        PayloadDecoder().decode(match: match, payload: Array(payload.utf8), receivedAt: receivedAt, into: &result.readings, problems: &result.problems)
        return result
    }

    func time(_ text: String) throws -> Timestamp {
        try #require(Timestamp(rfc3339: text))
    }

    // Zigbee2MQTT publishes a device's state as one JSON object on `zigbee2mqtt/FRIENDLY_NAME`, with
    // `last_seen` as ISO 8601 when `advanced.last_seen` is set to ISO_8601.
    // https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html
    // https://www.zigbee2mqtt.io/guide/configuration/device-availability.html (last_seen)
    @Test("Zigbee2MQTT: booleans 0/1, ON/OFF through a state map, other strings skipped, last_seen as time, units")
    func zigbee2MQTT() throws {
        let route = try TopicRoute("zigbee2mqtt/{device}", format: .json, mapping: PayloadMapping(options:
            "time=/last_seen;time_format=rfc3339;states=ON:1|OFF:0;ignore=update|linkquality;units=temperature:°C|humidity:%|voltage:mV"))
        let payload = #"""
        {"temperature":21.3,"humidity":48.2,"battery":97,"linkquality":102,"voltage":2995,"occupancy":true,"tamper":false,
         "state":"ON","power_on_behavior":"previous","update":{"state":"idle","installed_version":16777241},
         "last_seen":"2026-05-01T12:00:00.000Z"}
        """#
        let decoded = try decodeRouted("zigbee2mqtt/hallway_sensor", payload, route: route, at: time("2026-05-01T12:00:02Z"))
        #expect(decoded.problems.isEmpty)
        #expect(decoded.values == ["temperature": 21.3, "humidity": 48.2, "battery": 97, "voltage": 2995, "occupancy": 1, "tamper": 0, "state": 1])
        let expectedTime = try time("2026-05-01T12:00:00Z")
        #expect(decoded.readings.allSatisfy { $0.device == "hallway_sensor" && $0.time == expectedTime && $0.timeSource == .device })
        #expect(decoded.readings.first { $0.metric == "temperature" }?.unit == "°C")
        #expect(decoded.readings.first { $0.metric == "voltage" }?.unit == "mV")
        #expect(decoded.readings.first { $0.metric == "battery" }?.unit == nil)
    }

    // Tasmota's telemetry: `tele/%topic%/SENSOR` with a sensor object per attached sensor and `Time` in the
    // device's local time without a zone; `tele/%topic%/STATE` with uptime, power and Wi-Fi.
    // https://tasmota.github.io/docs/MQTT/ (telemetry), https://tasmota.github.io/docs/AM2301/
    @Test("Tasmota: nested sensor objects flattened, zone-less local time, a string kept as a tag, an include list")
    func tasmota() throws {
        let sensorRoute = try TopicRoute("tele/{device}/SENSOR", format: .json, mapping: PayloadMapping(options:
            "time=/Time;time_format=local+02:00;tags=TempUnit;units=AM2301.Temperature:°C|AM2301.Humidity:%|AM2301.DewPoint:°C"))
        let sensor = #"{"Time":"2026-05-01T14:00:00","AM2301":{"Temperature":21.4,"Humidity":55.0,"DewPoint":12.0},"TempUnit":"C"}"#
        let decoded = try decodeRouted("tele/kitchen-plug/SENSOR", sensor, route: sensorRoute, at: time("2026-05-01T12:00:05Z"))
        #expect(decoded.problems.isEmpty)
        #expect(decoded.values == ["AM2301.Temperature": 21.4, "AM2301.Humidity": 55, "AM2301.DewPoint": 12])
        let noonUTC = try time("2026-05-01T12:00:00Z")
        #expect(decoded.readings.allSatisfy { $0.time == noonUTC && $0.tags.filter { $0.key != Tag.unitKey } == [Tag(key: "TempUnit", value: "C")] })
        #expect(decoded.readings.first { $0.metric == "AM2301.Humidity" }?.unit == "%")

        let stateRoute = try TopicRoute("tele/{device}/STATE", format: .json, mapping: PayloadMapping(options:
            "time=/Time;time_format=local+02:00;states=ON:1|OFF:0;include=UptimeSec|POWER|LoadAvg|Wifi.RSSI|Wifi.Signal"))
        let state = #"""
        {"Time":"2026-05-01T14:00:00","Uptime":"0T01:00:00","UptimeSec":3600,"Heap":25,"SleepMode":"Dynamic","Sleep":50,
         "LoadAvg":19,"MqttCount":1,"POWER":"OFF","Wifi":{"AP":1,"SSId":"home","BSSId":"AA:BB:CC:DD:EE:FF","Channel":6,
         "Mode":"11n","RSSI":70,"Signal":-65,"LinkCount":1,"Downtime":"0T00:00:03"}}
        """#
        let decodedState = try decodeRouted("tele/kitchen-plug/STATE", state, route: stateRoute, at: time("2026-05-01T12:00:05Z"))
        #expect(decodedState.problems.isEmpty)
        #expect(decodedState.values == ["UptimeSec": 3600, "LoadAvg": 19, "POWER": 0, "Wifi.RSSI": 70, "Wifi.Signal": -65])
    }

    // Shelly Gen2 devices publish JSON-RPC notifications on `<topic prefix>/events/rpc`; NotifyStatus carries
    // `params.ts` (epoch seconds with a fraction) and the changed components, such as `switch:0`.
    // https://shelly-api-docs.shelly.cloud/gen2/General/Notifications
    // https://shelly-api-docs.shelly.cloud/gen2/ComponentsAndServices/Switch (status: apower, voltage, aenergy…)
    @Test("Shelly Gen2 NotifyStatus: readings under params, device from src, fractional epoch seconds, arrays skipped")
    func shellyNotifyStatus() throws {
        let route = try TopicRoute("{device}/events/rpc", format: .json, mapping: PayloadMapping(options:
            "readings=/params;time=/params/ts;time_format=s;device=/src;ignore=id|minute_ts|tF;units=switch:0.apower:W|switch:0.voltage:V"))
        let payload = #"""
        {"src":"shellyplus1pm-a8032ab1c2d3","dst":"kappa","method":"NotifyStatus",
         "params":{"ts":1777636800.25,"switch:0":{"id":0,"apower":42.5,"voltage":231.2,"current":0.21,"output":true,
         "aenergy":{"total":1234.567,"by_minute":[10.1,11.2,12.3],"minute_ts":1777636800},"temperature":{"tC":38.5,"tF":101.3}}}}
        """#
        let receivedAt = Timestamp(nanosecondsSinceEpoch: 1_777_636_801 * 1_000_000_000)
        let decoded = try decodeRouted("shelly-1pm-garage/events/rpc", payload, route: route, at: receivedAt)
        #expect(decoded.problems.isEmpty)
        #expect(decoded.values == [
            "switch:0.apower": 42.5, "switch:0.voltage": 231.2, "switch:0.current": 0.21, "switch:0.output": 1,
            "switch:0.aenergy.total": 1234.567, "switch:0.temperature.tC": 38.5,
        ])
        let expected = Timestamp(nanosecondsSinceEpoch: 1_777_636_800_250_000_000)
        #expect(decoded.readings.allSatisfy { $0.device == "shellyplus1pm-a8032ab1c2d3" && $0.time == expected })
        #expect(decoded.readings.first { $0.metric == "switch:0.apower" }?.unit == "W")
    }

    // The Things Stack publishes uplinks on `v3/{application id}@{tenant id}/devices/{device id}/up`; the
    // payload formatter's output is `uplink_message.decoded_payload`, `received_at` is RFC 3339 with
    // nanoseconds, and `rx_metadata` lists the gateways that heard it.
    // https://www.thethingsindustries.com/docs/integrations/other-integrations/mqtt/
    // https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/#uplink-messages
    @Test("The Things Stack uplink: decoded_payload by path, received_at with nanoseconds, a gateway tag from a list")
    func theThingsStackUplink() throws {
        let route = try TopicRoute("v3/{application}/devices/{device}/up", format: .json, mapping: PayloadMapping(options:
            "readings=/uplink_message/decoded_payload;time=$.received_at;time_format=rfc3339;tag.gateway=$.uplink_message.rx_metadata[0].gateway_ids.gateway_id;tags=status;units=temperature:°C|humidity:%"))
        let payload = #"""
        {"end_device_ids":{"device_id":"cellar-th-01","application_ids":{"application_id":"cellar"},"dev_eui":"70B3D57ED0000A01"},
         "received_at":"2026-05-01T12:00:00.123456789Z",
         "uplink_message":{"f_port":1,"f_cnt":42,"frm_payload":"AQID",
          "decoded_payload":{"temperature":19.75,"humidity":61,"battery_ok":true,"status":"ok"},
          "rx_metadata":[{"gateway_ids":{"gateway_id":"gw-cellar"},"rssi":-87,"snr":7.5}],
          "settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":7}},"frequency":"868100000"}}}
        """#
        let decoded = try decodeRouted("v3/cellar@ttn/devices/cellar-th-01/up", payload, route: route, at: time("2026-05-01T12:00:01Z"))
        #expect(decoded.problems.isEmpty)
        #expect(decoded.values == ["temperature": 19.75, "humidity": 61, "battery_ok": 1])
        let expected = Timestamp(nanosecondsSinceEpoch: try time("2026-05-01T12:00:00Z").nanosecondsSinceEpoch + 123_456_789)
        let tags = [Tag(key: "application", value: "cellar@ttn"), Tag(key: "gateway", value: "gw-cellar"), Tag(key: "status", value: "ok")]
        #expect(decoded.readings.allSatisfy { $0.device == "cellar-th-01" && $0.time == expected && $0.tags.filter { $0.key != Tag.unitKey } == tags })
        #expect(decoded.readings.first { $0.metric == "humidity" }?.unit == "%")
        #expect(decoded.readings.first { $0.metric == "battery_ok" }?.unit == nil)
    }

    @Test("a list of name/value objects, each with its own epoch-millisecond time")
    func namedValueList() throws {
        let route = try TopicRoute("gw/{device}", format: .json, mapping: PayloadMapping(options:
            "readings=/data;metric=@.name;value=@.v;time=@.t;time_format=ms"))
        let payload = #"{"data":[{"name":"flow","v":3.5,"t":1777636800000},{"name":"level","v":"0.75","t":1777636801000},{"name":"mode","v":"auto","t":1777636801000}]}"#
        let decoded = try decodeRouted("gw/pump-7", payload, route: route, at: Timestamp(millisecondsSinceEpoch: 1_777_636_802_000))
        #expect(decoded.problems.isEmpty)
        #expect(decoded.readings.map(\.metric) == ["flow", "level"])
        #expect(decoded.readings.map(\.value) == [3.5, 0.75])
        #expect(decoded.readings.map(\.time) == [Timestamp(millisecondsSinceEpoch: 1_777_636_800_000), Timestamp(millisecondsSinceEpoch: 1_777_636_801_000)])
    }

    @Test("timestamp formats: epoch s/ms/µs/ns as integers or fractions, RFC 3339 with offsets, local time with a zone", arguments: [
        ("s", "1777636800", 1_777_636_800_000_000_000),
        ("s", "1777636800.5", 1_777_636_800_500_000_000),
        ("ms", "1777636800123", 1_777_636_800_123_000_000),
        ("ms", "1777636800123.5", 1_777_636_800_123_500_000),
        ("us", "1777636800123456", 1_777_636_800_123_456_000),
        ("ns", "1777636800123456789", 1_777_636_800_123_456_789),
        ("rfc3339", "\"2026-05-01T14:00:00.1+02:00\"", 1_777_636_800_100_000_000),
        ("rfc3339", "\"2026-05-01T12:00:00Z\"", 1_777_636_800_000_000_000),
        ("local-05:30", "\"2026-05-01 06:30:00\"", 1_777_636_800_000_000_000),
        ("auto", "1777636800000", 1_777_636_800_000_000_000),
    ] as [(String, String, Int64)])
    func timestampFormats(format: String, value: String, nanoseconds: Int64) throws {
        let route = try TopicRoute("t/{device}", format: .json, mapping: PayloadMapping(options: "time=/at;time_format=\(format)"))
        let decoded = try decodeRouted("t/d1", #"{"at":\#(value),"x":1}"#, route: route, at: Timestamp(nanosecondsSinceEpoch: 1_777_636_800_000_000_000))
        #expect(decoded.problems.isEmpty)
        #expect(decoded.readings.map(\.time) == [Timestamp(nanosecondsSinceEpoch: nanoseconds)])
    }

    @Test("dead letters name the path and the offending value; null is skipped; strings dead-letter only when configured")
    func problemsNamePathAndValue() throws {
        let strict = try TopicRoute("s/{device}", format: .json, mapping: PayloadMapping(options: "readings=/p;time=/p/when;time_format=s;strings=dead_letter"))
        let bad = try decodeRouted("s/d1", #"{"p":{"when":1777636800,"ok":1,"gone":null,"battery":"LOW"}}"#, route: strict, at: Timestamp(nanosecondsSinceEpoch: 1_777_636_800_000_000_000))
        #expect(bad.values == ["ok": 1])
        #expect(bad.reasons == [.nonNumericValue])
        #expect(bad.problems.first?.message.contains("/p/battery") == true)
        #expect(bad.problems.first?.message.contains("\"LOW\"") == true)

        let lenient = try TopicRoute("s/{device}", format: .json, mapping: PayloadMapping(options: "readings=/p;time=/p/when;time_format=s"))
        let skipped = try decodeRouted("s/d1", #"{"p":{"when":1777636800,"ok":1,"battery":"LOW"}}"#, route: lenient, at: Timestamp(nanosecondsSinceEpoch: 1_777_636_800_000_000_000))
        #expect(skipped.problems.isEmpty)
        #expect(skipped.values == ["ok": 1])

        let badTime = try decodeRouted("s/d1", #"{"p":{"when":"yesterday","ok":1}}"#, route: lenient, at: Timestamp(nanosecondsSinceEpoch: 1_777_636_800_000_000_000))
        #expect(badTime.readings.isEmpty)
        #expect(badTime.reasons == [.invalidTimestamp])
        #expect(badTime.problems.first?.message.contains("/p/when") == true)
        #expect(badTime.problems.first?.message.contains("\"yesterday\"") == true)

        let missing = try decodeRouted("s/d1", #"{"q":{}}"#, route: lenient, at: Timestamp(nanosecondsSinceEpoch: 1_777_636_800_000_000_000))
        #expect(missing.reasons == [.noReadings])
        #expect(missing.problems.first?.message.contains("/p") == true)
    }

    @Test("a route without a mapping decodes exactly as before, and bad options are refused with a reason")
    func unmappedRoutesAndBadOptions() throws {
        let plain = try decodeRouted("devices/d1/telemetry", #"{"ts":1732400000000,"t":1,"state":"ON"}"#, route: TopicRoute("devices/{device}/telemetry", format: .json), at: receivedAt)
        #expect(plain.values == ["t": 1])
        #expect(plain.reasons == [.nonNumericValue])
        #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "time_format=fortnights") }
        #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "readings=params") }
        #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "metric=@.name") }
        #expect(throws: PayloadMappingError.self) { try PayloadMapping(options: "colour=blue") }
    }

    @Test("a reading's unit is its tag 'unit', kept in the log record; a reading without one is encoded as before")
    func unitInTheRecord() throws {
        var reading = Reading(device: "d1", metric: "temperature", time: receivedAt, value: 21.5, tags: [Tag(key: "site", value: "a"), Tag(key: "zone", value: "b")])
        let without = ReadingRecord.encode(reading)
        reading.unit = "°C"
        #expect(reading.tags.map(\.key) == ["site", "unit", "zone"])
        let bytes = ReadingRecord.encode(reading)
        #expect(bytes.first == ReadingRecord.version)
        #expect(bytes.count > without.count)
        #expect(try ReadingRecord.decode(bytes).unit == "°C")
        reading.unit = nil
        #expect(ReadingRecord.encode(reading) == without)
    }
}
