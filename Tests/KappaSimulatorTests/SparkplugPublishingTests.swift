import KappaCore
import KappaMQTT
import KappaSimulator
import KappaSparkplug
import KappaTestSupport
import Logging
import Testing

/// The Sparkplug fleet through a real mosquitto: one connection per edge node with its NDEATH as the will,
/// births before data, and the answer to a host's rebirth request.
@Suite("Publishing Sparkplug edge nodes through a real broker", .timeLimit(.minutes(2)))
struct SparkplugPublishingTests {
    let logger = Logger(label: "kappa.test.simulator")

    func uniqueGroup() -> String { "kappa-test-\(UInt32.random(in: 0...UInt32.max))" }

    func types(_ messages: [MQTTMessage]) -> [SparkplugTopic.MessageType] {
        messages.compactMap { SparkplugTopic($0.topic)?.messageType }
    }

    @Test("each edge node connects once, births first, and announces its death at the end; a host's rebirth request is answered")
    func birthsDataDeathAndRebirth() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let group = uniqueGroup()
        let (subscriber, collector) = try await subscribedCollector(broker, prefix: "spBv1.0/\(group)", logger: logger)
        defer { subscriber.disconnect() }

        // Three devices on one edge node, three on another, a reading a second each for a simulated minute at 20x:
        // three seconds in which to ask for a rebirth.
        let scenario = FleetScenario(
            seed: 4, deviceCount: 6, start: .now(), end: Timestamp.now().adding(nanoseconds: 60 * 1_000_000_000),
            format: .sparkplug, cadence: 1...1, sparkplug: SparkplugFleetLayout(group: group, devicesPerEdgeNode: 3)
        )
        let statistics = RunStatistics()
        let publisher = MQTTFleetPublisher(
            options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port), layout: .perDevice, window: 50),
            statistics: statistics, logger: logger
        )
        try await publisher.connect()
        let edgeNode = SparkplugEdgeNode(group: group, node: "edge-0000")
        let run = Task {
            var run = SimulationRun(source: Fleet(scenario), pacing: .realTime(speed: 20), batchSize: 50)
            try await run.run(publisher: publisher, labels: nil)
        }
        // Once the edge node's data flows, the host asks it to rebirth.
        let flowing = await collector.waitFor(count: 20)
        #expect(types(flowing).contains(.deviceData))
        let request = try RebirthRequests.command(for: edgeNode, now: .now())
        try await subscriber.publishAndWait(topic: request.topic, payload: request.payload, qos: .atLeastOnce)
        try await run.value

        #expect(statistics.connections == 2)
        #expect(statistics.errors == 0)
        let received = await collector.waitFor(count: statistics.published)
        var session = SparkplugSession()
        for node in ["edge-0000", "edge-0001"] {
            let messages = received.filter { SparkplugTopic($0.topic)?.edgeNode.node == node }
            let kinds = types(messages)
            #expect(kinds.first == .nodeBirth)
            #expect(kinds.last == .nodeDeath)
            #expect(Array(kinds.dropFirst().prefix(while: { $0 != .deviceData }).filter { $0 == .deviceBirth }).count >= 1)
            // What a host makes of the edge node's messages: no problem, no gap, offline at the end.
            for message in messages {
                let outcome = session.receive(topic: SparkplugTopic(message.topic)!, payload: message.payload, receivedAt: .now())
                #expect(outcome.problems.isEmpty && outcome.sequenceGap == nil && !outcome.rebirthNeeded, "\(message.topic)")
            }
        }
        // edge-0000 was asked to rebirth: a second NBIRTH, followed by the DBIRTHs of its three devices.
        let first = types(received.filter { SparkplugTopic($0.topic)?.edgeNode.node == "edge-0000" && $0.topic.contains("/NCMD/") == false })
        let births = first.indices.filter { first[$0] == .nodeBirth }
        #expect(births.count == 2)
        if births.count == 2 {
            #expect(Array(first[(births[1] + 1)...].prefix(3)) == [.deviceBirth, .deviceBirth, .deviceBirth])
        }
        #expect(types(received.filter { SparkplugTopic($0.topic)?.edgeNode.node == "edge-0001" }).filter { $0 == .nodeBirth }.count == 1)
        #expect(!session.isOnline(edgeNode))
    }

    @Test("the will: an edge node's connection lost without a DISCONNECT makes the broker publish its NDEATH")
    func willIsTheDeath() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let group = uniqueGroup()
        let (subscriber, collector) = try await subscribedCollector(broker, prefix: "spBv1.0/\(group)", logger: logger)
        defer { subscriber.disconnect() }
        let node = SimulatedEdgeNode(edgeNode: SparkplugEdgeNode(group: group, node: "edge-0000"), birthSequence: 5)
        let death = try node.death()
        var configuration = MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: "kappa-test-will-\(group)")
        configuration.will = MQTTConfiguration.Will(topic: death.topic, payload: death.payload)
        let client = try MQTTClient.make(configuration: configuration, logger: logger)
        try client.start()
        try await client.waitUntilConnected()
        #expect(collector.count == 0)
        client.abortConnectionWithoutAcknowledging()
        let received = await collector.waitFor(count: 1)
        client.disconnect()
        #expect(received.map(\.topic) == [death.topic])
        #expect(received.first.map { Array($0.payload) } == death.payload)
    }
}
