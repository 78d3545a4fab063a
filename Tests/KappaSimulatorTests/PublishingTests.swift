import Foundation
import KappaCore
import KappaMQTT
import KappaSimulator
import KappaTestSupport
import Logging
import Testing

@Suite("Publishing through a real broker", .timeLimit(.minutes(2)))
struct PublishingTests {
    let logger = Logger(label: "kappa.test.simulator")

    func subscriber(_ broker: MosquittoBroker, prefix: String, collector: MessageCollector) async throws -> MQTTClient {
        let client = try MQTTClient.make(configuration: MQTTConfiguration(host: "127.0.0.1", port: broker.port), logger: logger, onMessage: collector.handler)
        try client.start()
        try await client.waitUntilConnected()
        try await client.subscribe([MQTTSubscription("\(prefix)/#", qos: .atLeastOnce)])
        return client
    }

    func scenario(prefix: String) -> FleetScenario {
        var scenario = Scenarios.everything()
        scenario.topicPrefix = prefix
        scenario.chaos.oversized = 0
        return scenario
    }

    @Test("a run at QoS 1 delivers exactly the expected messages, in order per device, and writes the labels", arguments: [1, 3])
    func deliversExactCount(connections: Int) async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("sim")
        let collector = MessageCollector()
        let client = try await subscriber(broker, prefix: prefix, collector: collector)
        defer { client.disconnect() }

        let count = 3_000
        let labelsPath = try TemporaryDirectory.make(prefix: "kappa-sim") + "/labels.jsonl"
        let statistics = RunStatistics()
        let publisher = MQTTFleetPublisher(
            options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port), qos: .atLeastOnce, connections: connections, window: 200),
            statistics: statistics, logger: logger
        )
        try await publisher.connect()
        var run = SimulationRun(source: Fleet(scenario(prefix: prefix)), pacing: .fast, limit: count, batchSize: 200 * connections)
        try await run.run(publisher: publisher, labels: try LabelFileWriter(path: labelsPath))

        let expected = Fleet.generate(scenario(prefix: prefix), limit: count)
        #expect(statistics.published == count)
        #expect(statistics.published(qos: .atLeastOnce) == count)
        #expect(statistics.acknowledged == count)
        #expect(statistics.errors == 0)
        let received = await collector.waitFor(count: count)
        try await Task.sleep(for: .milliseconds(200))
        #expect(collector.count == count)
        let sentByTopic = Dictionary(grouping: expected.messages, by: \.topic).mapValues { $0.map(\.payload) }
        let receivedByTopic = Dictionary(grouping: received, by: \.topic).mapValues { $0.map(\.payload) }
        #expect(sentByTopic == receivedByTopic)
        let written = try String(contentsOfFile: labelsPath, encoding: .utf8)
        #expect(written == expected.labels.map { $0.jsonLine + "\n" }.joined())
        #expect(statistics.anomaliesInjected == expected.labels.filter { if case .anomaly = $0.kind { true } else { false } }.count)
        #expect(statistics.badMessages == expected.messages.filter(\.isBad).count)
    }

    @Test("dropping connections on purpose reconnects and loses nothing at QoS 1")
    func connectionDrops() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("sim-drops")
        let collector = MessageCollector()
        let client = try await subscriber(broker, prefix: prefix, collector: collector)
        defer { client.disconnect() }
        let statistics = RunStatistics()
        let publisher = MQTTFleetPublisher(
            options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port), qos: .atLeastOnce, window: 100, dropEvery: 500),
            statistics: statistics, logger: logger
        )
        try await publisher.connect()
        var run = SimulationRun(source: Fleet(scenario(prefix: prefix)), pacing: .fast, limit: 2_000, batchSize: 100)
        try await run.run(publisher: publisher, labels: nil)
        #expect(statistics.reconnects >= 3)
        await collector.waitFor(count: 2_000)
        try await Task.sleep(for: .milliseconds(200))
        #expect(collector.count == 2_000)
    }

    @Test("an unreachable broker fails the run with a clear message")
    func connectionFailure() async throws {
        let port = LoopbackPort.free()
        let publisher = MQTTFleetPublisher(
            options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: port), connectTimeout: .milliseconds(500)),
            statistics: RunStatistics(), logger: logger
        )
        let error = try await #require(throws: SimulatorError.self) { try await publisher.connect() }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("127.0.0.1:\(port)"))
    }
}
