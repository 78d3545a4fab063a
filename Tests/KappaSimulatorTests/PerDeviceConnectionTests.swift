import Foundation
import KappaCore
import KappaMQTT
import KappaSimulator
import KappaTestSupport
import Logging
import Testing

@Suite("Publishing with one connection per device", .timeLimit(.minutes(2)))
struct PerDeviceConnectionTests {
    let logger = Logger(label: "kappa.test.simulator")

    @Test("each device is its own MQTT client, named after it, and every message arrives at QoS 1")
    func oneClientPerDevice() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("sim-per-device")
        let (subscriber, collector) = try await subscribedCollector(broker, prefix: prefix, logger: logger)
        defer { subscriber.disconnect() }

        var scenario = Scenarios.anomaliesOnly()
        scenario.topicPrefix = prefix
        let count = 1_500
        let expected = Fleet.generate(scenario, limit: count).messages
        let devices = Set(expected.map(\.device))
        try #require(devices.count == scenario.deviceCount)
        let clientIDPrefix = "sim-\(UInt32.random(in: 0...UInt32.max))-"
        let statistics = RunStatistics()
        let publisher = MQTTFleetPublisher(
            options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port), qos: .atLeastOnce, layout: .perDevice, window: 40, clientIDPrefix: clientIDPrefix),
            statistics: statistics, logger: logger
        )
        try await publisher.connect()
        var run = SimulationRun(source: Fleet(scenario), pacing: .fast, limit: count, batchSize: 100)
        try await run.run(publisher: publisher, labels: nil)

        #expect(statistics.connections == devices.count)
        #expect(statistics.acknowledged == count)
        #expect(statistics.errors == 0)
        await collector.waitFor(count: count)
        try await Task.sleep(for: .milliseconds(200))
        let sentPerTopic = Dictionary(grouping: expected, by: \.topic).mapValues { $0.map(\.payload) }
        let receivedPerTopic = Dictionary(grouping: collector.received, by: \.topic).mapValues { $0.map(\.payload) }
        #expect(receivedPerTopic == sentPerTopic)

        // The broker saw one client per device, each under the device's own id.
        let log = try String(contentsOfFile: "\(broker.directory)/mosquitto.log", encoding: .utf8)
        let connected = Set(log.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("New client connected"), let range = line.range(of: " as \(clientIDPrefix)") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != " " })
        })
        #expect(connected == devices)
    }

    @Test("a fleet too large for a connection each is refused with advice")
    func tooManyDevices() {
        let error = #expect(throws: SimulatorError.self) { try PerDeviceConnections.reserve(devices: PerDeviceConnections.maximumDevices + 1) }
        #expect(error?.code == .invalidOption)
        #expect(error?.message.contains("--connections N") == true)
        #expect(throws: Never.self) { try PerDeviceConnections.reserve(devices: 10) }
    }
}
