import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaSparkplug
import KappaTestSupport
import Logging
import Testing

/// Sparkplug B through the bridge: the ingestor alone, then a real mosquitto with an edge node publishing
/// through a plain MQTT client.
@Suite("Sparkplug B in the bridge", .serialized, .timeLimit(.minutes(2)))
struct SparkplugBridgeTests {
    let logger = Logger(label: "kappa.test.sparkplug-bridge")
    let start = Timestamp(millisecondsSinceEpoch: 1_764_500_000_000)

    func uniqueGroup() -> String { "kappa-test-\(UInt64.random(in: 0...UInt64.max))" }

    /// The log's `sparkplug-lifecycle` stream (created on first use).
    func lifecycle(_ log: TemporaryLog) throws -> DiskStream {
        try log.log.createStream(named: KappaStreams.sparkplugLifecycle, partitionCount: KappaStreams.defaultSparkplugLifecyclePartitions)
    }

    func ingestor(_ log: TemporaryLog, sparkplug: Bool, statistics: BridgeStatistics = BridgeStatistics(routeCount: TopicRoute.defaults.count)) throws -> MessageIngestor {
        MessageIngestor(
            router: TopicRouter(routes: TopicRoute.defaults), decoder: PayloadDecoder(),
            readings: log.readings, deadLetters: log.deadLetters, statistics: statistics,
            sparkplugLifecycle: sparkplug ? try lifecycle(log) : nil
        )
    }

    @Test("off, a spBv1.0 topic goes through the routes as before (here: no route, so unknown_topic)")
    func offLeavesSparkplugTopicsToTheRoutes() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"))
        let birth = try edge.nodeBirth([("Supply/Voltage", 230)], at: start)
        let outcome = try ingestor(log, sparkplug: false).ingest(topic: birth.topic, payload: birth.payload, receivedAt: start)
        #expect(outcome.readings == 0 && outcome.deadLetters == 1)
        #expect(try LogContents.deadLetters(of: log.deadLetters).map(\.reason) == [.unknownTopic])
    }

    @Test("on, births and aliased data become readings; commands, STATE and odd spBv1.0 topics are ignored")
    func ingestorDecodesSparkplug() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let ingest = try ingestor(log, sparkplug: true)
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"))
        let later = start.adding(nanoseconds: 5_000_000_000)
        for message in [
            try edge.nodeBirth([("Supply/Voltage", 230)], at: start),
            try edge.deviceBirth("boiler", [("Temperature", 80)], at: start),
            try edge.data("boiler", [("Temperature", 81.5, later)], at: later),
        ] {
            try ingest.ingest(topic: message.topic, payload: message.payload, receivedAt: later)
        }
        for ignored in ["spBv1.0/STATE/host-1", "spBv1.0/plant/NCMD/edge-1", "spBv1.0/plant/DCMD/edge-1/boiler", "spBv1.0/plant/NOPE/edge-1", "spBv1.0/x"] {
            let outcome = try ingest.ingest(topic: ignored, payload: Array("{}".utf8), receivedAt: later)
            #expect(outcome.readings == 0 && outcome.deadLetters == 0, "\(ignored)")
        }
        // A JSON route's topic still decodes as before beside them.
        try ingest.ingest(topic: "devices/d1/pressure", payload: Array("1013".utf8), receivedAt: later)

        let readings = try LogContents.readings(of: log.readings)
        #expect(readings.map { "\($0.device) \($0.metric)=\($0.value)" }.sorted() == [
            "d1 pressure=1013.0", "plant/edge-1 Supply/Voltage=230.0", "plant/edge-1/boiler Temperature=80.0", "plant/edge-1/boiler Temperature=81.5",
        ])
        #expect(readings.first { $0.value == 81.5 }?.time == later)
        #expect(try LogContents.deadLetters(of: log.deadLetters).isEmpty)
        #expect(ingest.takeRebirthCommandTopics().isEmpty)
    }

    @Test("hostile Sparkplug input meets the limits routed payloads meet: bad names, times far off, oversized payloads")
    func hostileInputMeetsTheDecodingLimits() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let ingest = try ingestor(log, sparkplug: true)
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"))
        let longName = String(repeating: "m", count: 10_000)
        let birth = try edge.nodeBirth([("ok", 1), ("bad\u{0}name", 2), (longName, 3)], at: start)
        try ingest.ingest(topic: birth.topic, payload: birth.payload, receivedAt: start)
        let farFuture = start.adding(nanoseconds: 10 * 365 * 86_400 * 1_000_000_000)
        let data = try edge.data(nil, [("ok", 4, farFuture), ("ok", 5, start)], at: start)
        try ingest.ingest(topic: data.topic, payload: data.payload, receivedAt: start)
        let huge = try edge.data(nil, (0..<20_000).map { ("ok", Double($0), start) }, at: start)
        #expect(huge.payload.count > DecodingLimits.default.maxPayloadBytes)
        let hugeOutcome = try ingest.ingest(topic: huge.topic, payload: huge.payload, receivedAt: start)
        #expect(hugeOutcome.readings == 0)

        #expect(try LogContents.readings(of: log.readings).map(\.value) == [1, 5])
        let reasons = Set(try LogContents.deadLetters(of: log.deadLetters).map(\.reason))
        #expect(reasons == [.invalidMetric, .timestampOutOfRange, .oversizedPayload])
    }

    @Test("births and deaths are kept in the lifecycle stream, a birth that does not parse is not (it changed nothing)")
    func lifecycleKeepsWhatChangedTheSession() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let ingest = try ingestor(log, sparkplug: true)
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"))
        let birth = try edge.nodeBirth([("Voltage", 230)], at: start)
        try ingest.ingest(topic: birth.topic, payload: birth.payload, receivedAt: start)
        let garbled = try ingest.ingest(topic: birth.topic, payload: [0xFF, 0xFF, 0xFF], receivedAt: start)
        #expect(garbled.deadLetters == 1)
        let death = try edge.nodeDeath()
        try ingest.ingest(topic: death.topic, payload: death.payload, receivedAt: start)
        let entries = try LogContents.sparkplugLifecycle(of: lifecycle(log))
        #expect(entries.map(\.payload) == [birth.payload, death.payload])
        #expect(entries.map(\.online) == [["plant/edge-1"], []])
        #expect(entries.map(\.offline) == [[], ["plant/edge-1"]])
    }

    @Test("births the broker resends after a restart, their readings already stored, are not kept twice; without a stored session the same bytes are a new birth")
    func redeliveredBirthsAreNotKeptTwice() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"))
        let births = [try edge.nodeBirth([("Voltage", 230)], at: start), try edge.deviceBirth("boiler", [("Temperature", 80), ("Pressure", 1.5)], at: start)]
        let first = try ingestor(log, sparkplug: true)
        for (index, birth) in births.enumerated() {
            try first.ingest(topic: birth.topic, payload: birth.payload, packetID: UInt16(index + 1), receivedAt: start)
        }
        // Killed before the acknowledgements left: the next gateway's connection gets both births again.
        let restarted = try ingestor(log, sparkplug: true)
        try restarted.recoverDeliveries()
        _ = try restarted.restoreSparkplugSession()
        restarted.connectionStarted(sessionPresent: true)
        for (index, birth) in births.enumerated() {
            let outcome = try restarted.ingest(topic: birth.topic, payload: birth.payload, packetID: UInt16(index + 1), receivedAt: start.adding(nanoseconds: 1_000_000_000))
            #expect(outcome.readings == 0)
        }
        let data = try edge.data("boiler", [("Temperature", 81, start.adding(nanoseconds: 1_000_000_000))], at: start)
        #expect(try restarted.ingest(topic: data.topic, payload: data.payload, packetID: 3, receivedAt: start).readings == 1)
        #expect(try LogContents.sparkplugLifecycle(of: lifecycle(log)).map(\.topic) == births.map(\.topic))
        #expect(try LogContents.readings(of: log.readings).count == 4)

        // A new broker session resends nothing: a birth arriving in it is the edge node's, kept however alike.
        let fresh = try ingestor(log, sparkplug: true)
        try fresh.recoverDeliveries()
        _ = try fresh.restoreSparkplugSession()
        fresh.connectionStarted(sessionPresent: false)
        try fresh.ingest(topic: births[0].topic, payload: births[0].payload, packetID: 1, receivedAt: start)
        #expect(try LogContents.sparkplugLifecycle(of: lifecycle(log)).map(\.topic) == births.map(\.topic) + [births[0].topic])
    }

    // MARK: - Through mosquitto

    func bridge(_ broker: MosquittoBroker, log: TemporaryLog, clientID: String = "sparkplug-bridge-\(UInt32.random(in: 0...UInt32.max))", hostID: String = "kappa") throws -> MQTTBridge {
        var mqtt = MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: clientID, cleanSession: false,
                                     reconnectBackoff: .init(initial: .milliseconds(50), maximum: .milliseconds(500)))
        mqtt.keepAlive = .seconds(5)
        let prefix = uniqueTopicPrefix("sparkplug")
        let routes = [try TopicRoute("\(prefix)/devices/{device}/{metric}", format: .number)]
        return try MQTTBridge.make(
            configuration: BridgeConfiguration(mqtt: mqtt, routes: routes, retryInterval: .milliseconds(100), sparkplug: true, sparkplugHostID: hostID),
            readings: log.readings, deadLetters: log.deadLetters, sparkplugLifecycle: try lifecycle(log), logger: logger
        )
    }

    func client(_ broker: MosquittoBroker, collector: MessageCollector? = nil) async throws -> MQTTClient {
        var handler: MQTTClient.MessageHandler = { _ in }
        if let collector { handler = collector.handler }
        let client = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port), logger: logger, onMessage: handler)
        try client.start()
        try await client.waitUntilConnected()
        return client
    }

    /// The log's readings and dead letters of one Sparkplug group (other tests may publish on the same broker).
    func contents(_ log: TemporaryLog, group: String) throws -> (readings: [Reading], deadLetters: [DeadLetter]) {
        (try LogContents.readings(of: log.readings).filter { $0.device.hasPrefix("\(group)/") },
         try LogContents.deadLetters(of: log.deadLetters).filter { $0.topic.hasPrefix("spBv1.0/\(group)/") })
    }

    func waitFor(_ log: TemporaryLog, group: String, readings: Int = 0, deadLetters: Int = 0) async throws -> (readings: [Reading], deadLetters: [DeadLetter]) {
        let deadline = ContinuousClock.now + .seconds(15)
        var found = try contents(log, group: group)
        while (found.readings.count < readings || found.deadLetters.count < deadLetters) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            found = try contents(log, group: group)
        }
        return found
    }

    @Test("NBIRTH, DBIRTH and DDATA by alias from an edge node become readings named and timed by the metrics")
    func birthsThenAliasedData() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let log = try TemporaryLog()
        defer { log.log.close() }
        let group = uniqueGroup()
        let bridge = try bridge(broker, log: log)
        let publisher = try await client(broker)
        defer { publisher.disconnect() }
        let service = Task { try await bridge.run() }
        defer { service.cancel() }
        try await bridge.waitUntilSubscribed()

        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-1"), birthSequence: 3)
        let now = Timestamp.now()
        let birthTime = Timestamp(millisecondsSinceEpoch: now.nanosecondsSinceEpoch / 1_000_000 - 10_000)
        let dataTimes = (1...3).map { Timestamp(millisecondsSinceEpoch: birthTime.nanosecondsSinceEpoch / 1_000_000 + Int64($0) * 1_000) }
        var messages = [
            try edge.nodeBirth([("Supply/Voltage", 230)], at: birthTime),
            try edge.deviceBirth("boiler", [("Temperature", 80), ("Pressure", 1.5)], at: birthTime),
        ]
        for (step, time) in dataTimes.enumerated() {
            messages.append(try edge.data("boiler", [("Temperature", 80 + Double(step + 1)), ("Pressure", 1.5 + Double(step + 1) / 10)].map { ($0.0, $0.1, time) }, at: time))
        }
        // The data names its metrics by alias only: their names are in the births, not in the data.
        for data in messages.suffix(3) {
            #expect(!data.payload.contains(subsequence: Array("Temperature".utf8)))
        }
        for message in messages {
            try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
        }

        let found = try await waitFor(log, group: group, readings: 9)
        service.cancel()
        _ = try? await service.value
        let boiler = "\(group)/edge-1/boiler"
        var expected = [
            Reading(device: "\(group)/edge-1", metric: "Supply/Voltage", time: birthTime, value: 230),
            Reading(device: boiler, metric: "Temperature", time: birthTime, value: 80),
            Reading(device: boiler, metric: "Pressure", time: birthTime, value: 1.5),
        ]
        for (step, time) in dataTimes.enumerated() {
            expected.append(Reading(device: boiler, metric: "Temperature", time: time, value: 80 + Double(step + 1)))
            expected.append(Reading(device: boiler, metric: "Pressure", time: time, value: 1.5 + Double(step + 1) / 10))
        }
        #expect(Set(found.readings.map { "\($0.device) \($0.metric) \($0.time) \($0.value)" })
            == Set(expected.map { "\($0.device) \($0.metric) \($0.time) \($0.value)" }))
        #expect(found.readings.count == expected.count)
        #expect(found.readings.allSatisfy { $0.timeSource == .device })
        #expect(found.deadLetters.isEmpty)
    }

    @Test("DDATA before any birth: a sparkplug_no_birth dead letter and one NCMD rebirth request to that edge node")
    func dataBeforeBirthAsksForRebirth() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let log = try TemporaryLog()
        defer { log.log.close() }
        let group = uniqueGroup()
        let commands = MessageCollector()
        let commandSubscriber = try await client(broker, collector: commands)
        defer { commandSubscriber.disconnect() }
        try await commandSubscriber.subscribe([MQTTSubscription("spBv1.0/\(group)/NCMD/edge-7", qos: .atLeastOnce)])
        let bridge = try bridge(broker, log: log)
        let publisher = try await client(broker)
        defer { publisher.disconnect() }
        let service = Task { try await bridge.run() }
        defer { service.cancel() }
        try await bridge.waitUntilSubscribed()

        // An edge node whose births the gateway never saw (it was born before the gateway started).
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-7"))
        _ = try edge.nodeBirth([("Supply/Voltage", 230)], at: start)
        _ = try edge.deviceBirth("pump", [("Flow", 12)], at: start)
        let now = Timestamp.now()
        let first = try edge.data("pump", [("Flow", 12.5, now)], at: now)
        let second = try edge.data("pump", [("Flow", 13, now)], at: now)
        try await publisher.publishAndWait(topic: first.topic, payload: first.payload)
        try await publisher.publishAndWait(topic: second.topic, payload: second.payload)
        // The hosts' STATE is no telemetry: no dead letter.
        try await publisher.publishAndWait(topic: "spBv1.0/STATE/\(group)-host", payload: Array(#"{"online":true,"timestamp":1}"#.utf8))

        let found = try await waitFor(log, group: group, deadLetters: 2)
        let requests = await commands.waitFor(count: 1)
        // Anything more would have come by now: the second DDATA, the STATE and the request itself (which
        // comes back to the bridge) have all been handled.
        try await Task.sleep(for: .milliseconds(500))
        service.cancel()
        _ = try? await service.value

        #expect(found.deadLetters.map(\.reason) == [.sparkplugNoBirth, .sparkplugNoBirth])
        #expect(found.deadLetters.map(\.topic) == [first.topic, second.topic])
        #expect(found.deadLetters.first?.payload == first.payload)
        #expect(found.deadLetters.first?.message.contains("before its NBIRTH") == true)
        #expect(found.readings.isEmpty)
        #expect(try LogContents.deadLetters(of: log.deadLetters).filter { $0.topic.contains("STATE") || $0.topic.contains("NCMD") }.isEmpty)

        // Rate-limited: two messages out of step, one request.
        #expect(requests.count == 1)
        #expect(commands.count == 1)
        let request = try #require(requests.first)
        #expect(request.topic == "spBv1.0/\(group)/NCMD/edge-7")
        #expect(request.payload.contains(subsequence: Array("Node Control/Rebirth".utf8)))
    }

    @Test("a seq gap from a born edge node: its data still stored, one NCMD rebirth request, the gap counted")
    func sequenceGapAsksForRebirth() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let log = try TemporaryLog()
        defer { log.log.close() }
        let group = uniqueGroup()
        let commands = MessageCollector()
        let commandSubscriber = try await client(broker, collector: commands)
        defer { commandSubscriber.disconnect() }
        try await commandSubscriber.subscribe([MQTTSubscription("spBv1.0/\(group)/NCMD/edge-3", qos: .atLeastOnce)])
        let bridge = try bridge(broker, log: log)
        let publisher = try await client(broker)
        defer { publisher.disconnect() }
        let service = Task { try await bridge.run() }
        defer { service.cancel() }
        try await bridge.waitUntilSubscribed()

        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-3"))
        let now = Timestamp.now()
        var messages = [try edge.nodeBirth([("Voltage", 230)], at: now), try edge.data(nil, [("Voltage", 231, now)], at: now)]
        _ = try edge.data(nil, [("Voltage", 232, now)], at: now)  // seq 2, lost on the way
        messages.append(try edge.data(nil, [("Voltage", 233, now)], at: now))
        for message in messages {
            try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
        }
        let found = try await waitFor(log, group: group, readings: 3)
        let requests = await commands.waitFor(count: 1)
        service.cancel()
        _ = try? await service.value

        #expect(found.readings.map(\.value).sorted() == [230, 231, 233])
        #expect(found.deadLetters.isEmpty)
        #expect(requests.map(\.topic) == ["spBv1.0/\(group)/NCMD/edge-3"])
        #expect(bridge.statistics.snapshot.sparkplugSequenceGaps == 1)
        #expect(bridge.statistics.snapshot.sparkplugRebirthRequests == 1)
    }

    @Test("births and deaths go to the sparkplug-lifecycle stream keyed by edge node; a new bridge on the same log resolves aliases of births it never saw")
    func birthsAreKeptAndRestored() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let log = try TemporaryLog()
        defer { log.log.close() }
        let group = uniqueGroup()
        let clientID = "sparkplug-restore-\(UInt32.random(in: 0...UInt32.max))"
        let publisher = try await client(broker)
        defer { publisher.disconnect() }
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-1"), birthSequence: 9)
        let now = Timestamp.now()
        let births = [try edge.nodeBirth([("Voltage", 230)], at: now), try edge.deviceBirth("boiler", [("Temperature", 80)], at: now)]
        let death = try edge.deviceDeath("boiler", at: now)
        let rebirth = try edge.deviceBirth("boiler", [("Temperature", 81)], at: now)

        let first = try bridge(broker, log: log, clientID: clientID)
        let firstRun = Task { try await first.run() }
        try await first.waitUntilSubscribed()
        for message in births + [death, rebirth] {
            try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
        }
        // NBIRTH, DBIRTH and the DBIRTH after the DDEATH carry one value each.
        #expect(try await waitFor(log, group: group, readings: 3).readings.count == 3)
        firstRun.cancel()
        _ = try? await firstRun.value

        let entries = try LogContents.sparkplugLifecycle(of: lifecycle(log)).filter { $0.topic.contains("/\(group)/") }
        #expect(entries.map(\.topic) == (births + [death, rebirth]).map(\.topic))
        #expect(entries.map(\.online) == [["\(group)/edge-1"], ["\(group)/edge-1/boiler"], [], ["\(group)/edge-1/boiler"]])
        #expect(entries.map(\.offline) == [[], [], ["\(group)/edge-1/boiler"], []])
        let keys = Set(try LogContents.records(of: lifecycle(log)).compactMap { record -> String? in
            guard let entry = try? SparkplugLifecycleRecord.decode(record.value), entry.topic.contains("/\(group)/") else { return nil }
            return String(decoding: record.key, as: UTF8.self)
        })
        #expect(keys == ["\(group)/edge-1"], "keyed by the edge node, whose certificates stay in one partition")

        // A second bridge on the same log, same session: data by alias only, and it never saw the births.
        let second = try bridge(broker, log: log, clientID: clientID)
        let secondRun = Task { try await second.run() }
        defer { secondRun.cancel() }
        try await second.waitUntilSubscribed()
        let data = try edge.data("boiler", [("Temperature", 82, now)], at: now)
        #expect(!data.payload.contains(subsequence: Array("Temperature".utf8)))
        try await publisher.publishAndWait(topic: data.topic, payload: data.payload)
        let found = try await waitFor(log, group: group, readings: 4)
        secondRun.cancel()
        _ = try? await secondRun.value
        #expect(found.readings.filter { $0.value == 82 }.map { "\($0.device) \($0.metric)" } == ["\(group)/edge-1/boiler Temperature"])
        #expect(found.deadLetters.isEmpty)
        #expect(second.statistics.snapshot.sparkplugSequenceGaps == 0)
    }

    @Test("kappa as primary host: a retained STATE birth once subscribed, its death with the same timestamp published on a graceful stop (the will: SparkplugGatewayTests, kill -9)")
    func hostStateBirthAndDeath() async throws {
        // A broker of its own: a Sparkplug host on a shared broker asks every edge node it sees without a birth
        // for a rebirth, other tests' nodes included, and counts their gaps.
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let log = try TemporaryLog()
        defer { log.log.close() }
        let hostID = "kappa-host-\(UInt32.random(in: 0...UInt32.max))"
        let states = MessageCollector()
        let watcher = try await client(broker, collector: states)
        defer { watcher.disconnect() }
        try await watcher.subscribe([MQTTSubscription("spBv1.0/STATE/\(hostID)", qos: .atLeastOnce)])
        let bridge = try bridge(broker, log: log, hostID: hostID)
        let service = Task { try await bridge.run() }
        try await bridge.waitUntilSubscribed()
        await states.waitFor(count: 1)

        let late = MessageCollector()
        let lateClient = try await client(broker, collector: late)
        defer { lateClient.disconnect() }
        try await lateClient.subscribe([MQTTSubscription("spBv1.0/STATE/\(hostID)", qos: .atLeastOnce)])
        let retained = try #require(await late.waitFor(count: 1).first)
        #expect(retained.retain)
        let birth = try #require(String(decoding: retained.payload, as: UTF8.self).wholeMatch(of: /\{"online":true,"timestamp":(\d+)\}/))

        service.cancel()
        _ = try? await service.value
        let seen = await states.waitFor(count: 2)
        let death = String(decoding: try #require(seen.last).payload, as: UTF8.self)
        #expect(death == "{\"online\":false,\"timestamp\":\(birth.1)}")
    }
}

extension MessageIngestor {
    /// The topics of the rebirth requests pending, taking them.
    func takeRebirthCommandTopics() -> [String] { takeRebirthCommands().map(\.topic) }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { start in self[start..<(start + subsequence.count)].elementsEqual(subsequence) }
    }
}
