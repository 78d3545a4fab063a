import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

@Suite("A mapped route through a real broker into the log", .timeLimit(.minutes(2)))
struct MappedRouteBridgeTests {
    let logger = Logger(label: "kappa.test.mapped-route")

    // Zigbee2MQTT's device messages (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html),
    // invented values, through the route docs/payload-mapping.md documents for them.
    @Test("Zigbee2MQTT messages become readings with their times and units; strings and booleans make no dead letter")
    func zigbee2MQTTThroughMosquitto() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("z2m")
        let log = try TemporaryLog()
        defer { log.log.close() }
        let route = try TopicRoute("\(prefix)/zigbee2mqtt/{device}", format: .json, mapping: PayloadMapping(options:
            "time=/last_seen;time_format=rfc3339;states=ON:1|OFF:0;ignore=update|linkquality;units=temperature:°C|humidity:%"))
        var mqtt = MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "z2m-bridge-\(UInt32.random(in: 0...UInt32.max))", cleanSession: false)
        mqtt.keepAlive = .seconds(5)
        let bridge = try MQTTBridge.make(
            configuration: BridgeConfiguration(mqtt: mqtt, routes: [route]),
            readings: log.readings, deadLetters: log.deadLetters, logger: logger
        )
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port), logger: logger)
        try publisher.start()
        defer { publisher.disconnect() }
        try await publisher.waitUntilConnected()

        let service = Task { try await bridge.run() }
        defer { service.cancel() }
        try await bridge.waitUntilSubscribed()
        let seen = Timestamp.now()
        let lastSeen = String(seen.description.prefix(19)) + "Z"
        let times = try #require(Timestamp(rfc3339: lastSeen))
        for device in ["hallway", "porch"] {
            let payload = #"{"temperature":21.5,"humidity":48,"occupancy":true,"state":"OFF","power_on_behavior":"previous","linkquality":90,"update":{"state":"idle"},"last_seen":"\#(lastSeen)"}"#
            try await publisher.publishAndWait(topic: "\(prefix)/zigbee2mqtt/\(device)", payload: Array(payload.utf8))
        }
        let deadline = ContinuousClock.now + .seconds(15)
        var readings = try LogContents.readings(of: log.readings)
        while readings.count < 8 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            readings = try LogContents.readings(of: log.readings)
        }
        service.cancel()
        _ = try? await service.value

        #expect(Set(readings.map { "\($0.device)/\($0.metric)=\($0.value)" }) == [
            "hallway/temperature=21.5", "hallway/humidity=48.0", "hallway/occupancy=1.0", "hallway/state=0.0",
            "porch/temperature=21.5", "porch/humidity=48.0", "porch/occupancy=1.0", "porch/state=0.0",
        ])
        #expect(readings.count == 8)
        #expect(readings.allSatisfy { $0.time == times && $0.timeSource == .device })
        #expect(readings.filter { $0.metric == "temperature" }.allSatisfy { $0.unit == "°C" })
        #expect(try LogContents.deadLetters(of: log.deadLetters).isEmpty)
    }
}
