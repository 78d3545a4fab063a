import Foundation
import KappaCore
import KappaLog
@testable import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// A log in a temporary directory with the two streams the bridge writes.
struct TemporaryLog {
    let directory: String
    let log: DiskLog
    let readings: DiskStream
    let deadLetters: DiskStream

    init(floorBytes: Int64 = 0) throws {
        directory = try TemporaryDirectory.make(prefix: "kappa-bridge-log")
        var configuration = DiskLogConfiguration()
        configuration.diskFloorBytes = floorBytes
        log = try DiskLog(directory: directory, configuration: configuration, logger: Logger(label: "kappa.test.log"))
        readings = try log.createStream(named: KappaStreams.readings, partitionCount: 4)
        deadLetters = try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
    }
}

@Suite("Message ingestor: topic to log, bad input to dead letters")
struct MessageIngestorTests {
    func ingestor(_ log: TemporaryLog, routes: [TopicRoute] = TopicRoute.defaults) -> MessageIngestor {
        MessageIngestor(
            router: TopicRouter(routes: routes), decoder: PayloadDecoder(),
            readings: log.readings, deadLetters: log.deadLetters, statistics: BridgeStatistics(routeCount: routes.count)
        )
    }

    @Test func everyPayloadFormatLandsInTheLog() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let lineRoute = try TopicRoute("lines/{device}", format: .lineProtocol)
        let ingest = ingestor(log, routes: TopicRoute.defaults + [lineRoute])
        let now = Timestamp.now()
        let ms = now.nanosecondsSinceEpoch / 1_000_000
        try ingest.ingest(topic: "devices/d1/telemetry", payload: Array(#"{"ts": \#(ms), "temperature": 21.5, "humidity": 40}"#.utf8), receivedAt: now)
        try ingest.ingest(topic: "devices/d2/telemetry", payload: Array(#"{"ts": \#(ms), "values": {"co2": 415}}"#.utf8), receivedAt: now)
        try ingest.ingest(topic: "devices/d3/telemetry", payload: Array(#"[{"ts": \#(ms), "v": 1}, {"ts": \#(ms + 1000), "v": 2}]"#.utf8), receivedAt: now)
        try ingest.ingest(topic: "devices/d4/pressure", payload: Array("1013.25".utf8), receivedAt: now)
        try ingest.ingest(topic: "lines/d5", payload: Array("env,site=a temp=20.5 \(now.nanosecondsSinceEpoch)".utf8), receivedAt: now)

        let readings = try LogContents.readings(of: log.readings)
        let summary = Set(readings.map { "\($0.device)/\($0.metric)=\($0.value)" })
        #expect(summary == ["d1/temperature=21.5", "d1/humidity=40.0", "d2/co2=415.0", "d3/v=1.0", "d3/v=2.0", "d4/pressure=1013.25", "d5/env.temp=20.5"])
        #expect(readings.first { $0.device == "d4" }?.timeSource == .received)
        #expect(readings.first { $0.device == "d1" }?.time == Timestamp(millisecondsSinceEpoch: ms))
        #expect(try LogContents.deadLetters(of: log.deadLetters).isEmpty)
        #expect(ingest.statistics.snapshot.readings == 7)
    }

    @Test func everyBadInputClassIsDeadLetteredWithItsReason() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let ingest = ingestor(log)
        let now = Timestamp.now()
        let cases: [(topic: String, payload: [UInt8], reason: String)] = [
            ("devices/d1/telemetry", Array(#"{"temperature": 21.5"#.utf8), "malformed_json"),
            ("devices/d1/telemetry", Array(#"{"temperature": "warm"}"#.utf8), "non_numeric_value"),
            ("devices/d1/temperature", Array("NaN".utf8), "non_finite_value"),
            ("devices/d1/telemetry", [], "empty_payload"),
            ("devices/d1/telemetry", Array(repeating: 0x20, count: 2_000_000), "oversized_payload"),
            ("devices/d1/telemetry", [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], "invalid_utf8"),
            ("devices/d1/x/y", Array("1".utf8), "unknown_topic"),
            ("devices/d1/telemetry", Array(#"{"ts": 4102444800000, "t": 1}"#.utf8), "timestamp_out_of_range"),
        ]
        for item in cases {
            try ingest.ingest(topic: item.topic, payload: item.payload, receivedAt: now)
        }
        let letters = try LogContents.deadLetters(of: log.deadLetters)
        #expect(letters.map(\.reason.rawValue) == cases.map(\.reason))
        for (letter, item) in zip(letters, cases) {
            #expect(letter.topic == item.topic)
            #expect(letter.payloadSize == item.payload.count)
            if item.payload.count <= DeadLetter.payloadCap {
                #expect(letter.payload == item.payload && letter.payloadSHA256.isEmpty, "the raw payload is kept")
            } else {
                #expect(letter.payload == Array(item.payload.prefix(DeadLetter.payloadCap)), "a prefix of an oversized payload is kept")
                #expect(letter.payloadSHA256 == SHA256.hash(item.payload))
            }
            #expect(letter.receivedAt == now)
            #expect(!letter.message.isEmpty)
        }
        #expect(try LogContents.readings(of: log.readings).isEmpty)
        #expect(ingest.statistics.snapshot.deadLettersByReason.values.reduce(0, +) == cases.count)
    }

    @Test func partlyValidMessagesKeepTheirGoodReadings() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let outcome = try ingestor(log).ingest(
            topic: "devices/d1/telemetry",
            payload: Array(#"{"temperature": 21.5, "status": "ok", "humidity": 1e999}"#.utf8),
            receivedAt: .now()
        )
        #expect(outcome.readings == 1 && outcome.deadLetters == 1)
        #expect(try LogContents.readings(of: log.readings).map(\.metric) == ["temperature"])
        let letters = try LogContents.deadLetters(of: log.deadLetters)
        #expect(letters.map(\.reason.rawValue) == ["non_numeric_value"])
        #expect(letters.first?.message.hasPrefix("2 problems: non_numeric_value: field 'status'") == true)
        #expect(letters.first?.message.contains("; non_finite_value: field 'humidity'") == true)
    }

    @Test func namesPostgreSQLCannotStoreAreDeadLetteredAndOtherDevicesFlow() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let ingest = ingestor(log, routes: TopicRoute.defaults + [try TopicRoute("lines/{device}", format: .lineProtocol)])
        let now = Timestamp.now()
        let poison: [(topic: String, payload: [UInt8], reason: String)] = [
            ("devices/p1/telemetry", Array(#"{"bad\u0000key": 1}"#.utf8), "invalid_metric"),
            ("lines/p2", Array("m,room=a".utf8) + [0] + Array("b v=1".utf8), "invalid_tag"),
            ("devices/\(String(repeating: "x", count: 10_000))/telemetry", Array(#"{"t": 1}"#.utf8), "invalid_device"),
            ("devices/p4/telemetry", Array(#"{"\#(String(repeating: "k", count: 3_000))": 1}"#.utf8), "invalid_metric"),
        ]
        for (index, item) in poison.enumerated() {
            try ingest.ingest(topic: "devices/good\(index)/telemetry", payload: Array(#"{"t": \#(index)}"#.utf8), receivedAt: now)
            try ingest.ingest(topic: item.topic, payload: item.payload, receivedAt: now)
        }
        try ingest.ingest(topic: "lines/good9", payload: Array("m,room=b v=9".utf8), receivedAt: now)
        #expect(try LogContents.deadLetters(of: log.deadLetters).map(\.reason.rawValue) == poison.map(\.reason))
        let readings = try LogContents.readings(of: log.readings)
        #expect(Set(readings.map(\.device)) == ["good0", "good1", "good2", "good3", "good9"])
    }

    @Test func anArrayOfSixteenThousandNumbersIsOneBoundedDeadLetter() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let payload = Array(("[" + (0..<16_000).map { String($0 % 10) }.joined(separator: ",") + "]").utf8)
        let outcome = try ingestor(log).ingest(topic: "devices/d1/telemetry", payload: payload, receivedAt: .now())
        #expect(outcome.deadLetters == 1 && outcome.readings == 0)
        let letters = try LogContents.deadLetters(of: log.deadLetters)
        #expect(letters.count == 1)
        #expect(letters.first?.message.hasPrefix("16000 problems (the first 5 listed): unsupported_format: batch element 0 at byte 1 is not an object") == true)
        let stored = DeadLetterRecord.encode(try #require(letters.first)).count
        #expect(stored < payload.count + 2_048, "one payload and a short message, not 16,000 of them: \(stored) bytes")
    }

    @Test func theStatisticsTellWhenTheLatestMessageWasRead() throws {
        let log = try TemporaryLog()
        defer { log.log.close() }
        let ingest = ingestor(log)
        #expect(ingest.statistics.snapshot.lastMessageReceivedAt == nil)
        let first = Timestamp(nanosecondsSinceEpoch: 1_764_000_000_123_456_789)
        let second = Timestamp(nanosecondsSinceEpoch: first.nanosecondsSinceEpoch + 1_000)
        try ingest.ingest(topic: "devices/d1/telemetry", payload: Array(#"{"temperature": 21.5}"#.utf8), receivedAt: first)
        #expect(ingest.statistics.snapshot.lastMessageReceivedAt == first)
        // A message that only becomes a dead letter was read too.
        try ingest.ingest(topic: "devices/d1/telemetry", payload: Array("{not json".utf8), receivedAt: second)
        let snapshot = ingest.statistics.snapshot
        #expect(snapshot.lastMessageReceivedAt == second)
        #expect(snapshot.messages == 2)
    }

    @Test func aRefusingLogThrowsSoTheMessageIsNotAcknowledged() throws {
        let log = try TemporaryLog(floorBytes: Int64.max / 2)
        defer { log.log.close() }
        #expect(throws: LogError.self) {
            try ingestor(log).ingest(topic: "devices/d1/temperature", payload: Array("1".utf8), receivedAt: .now())
        }
        log.log.diskFloorBytes = 0
        #expect(try LogContents.readings(of: log.readings).isEmpty)
    }
}

@Suite("MQTT bridge against a real broker", .timeLimit(.minutes(2)))
struct MQTTBridgeTests {
    let logger = Logger(label: "kappa.test.bridge")

    func bridge(_ broker: MosquittoBroker, log: TemporaryLog, clientID: String, prefix: String, shareGroup: String? = nil, keepAlive: Duration = .seconds(5)) throws -> MQTTBridge {
        var mqtt = MQTTConfiguration(host: "127.0.0.1", port: broker.port, clientID: clientID, cleanSession: false,
                                     reconnectBackoff: .init(initial: .milliseconds(50), maximum: .milliseconds(500)))
        mqtt.keepAlive = keepAlive
        let routes = [try TopicRoute("\(prefix)/devices/{device}/telemetry", format: .json), try TopicRoute("\(prefix)/devices/{device}/{metric}", format: .number)]
        return try MQTTBridge.make(
            configuration: BridgeConfiguration(mqtt: mqtt, routes: routes, shareGroup: shareGroup, retryInterval: .milliseconds(100)),
            readings: log.readings, deadLetters: log.deadLetters, logger: logger
        )
    }

    /// A client id whose persistent session a bridge made (subscribed) and left: the broker keeps what is
    /// published for it until a bridge with that id returns.
    func sessionLeftBehind(_ broker: MosquittoBroker, log: TemporaryLog, prefix: String) async throws -> String {
        let clientID = "bridge-\(UInt32.random(in: 0...UInt32.max))"
        let first = try bridge(broker, log: log, clientID: clientID, prefix: prefix)
        try await running(first) { try await Task.sleep(for: .milliseconds(100)) }
        return clientID
    }

    func publisher(_ broker: MosquittoBroker) async throws -> MQTTClient {
        let client = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port), logger: logger)
        try client.start()
        try await client.waitUntilConnected()
        return client
    }

    /// Runs the bridge's service loop until `body` finishes, then shuts it down gracefully.
    func running<T: Sendable>(_ bridge: MQTTBridge, _ body: () async throws -> T) async throws -> T {
        let service = Task { try await bridge.run() }
        try await bridge.waitUntilSubscribed()
        do {
            let result = try await body()
            service.cancel()
            try await service.value
            return result
        } catch {
            service.cancel()
            _ = try? await service.value
            throw error
        }
    }

    func waitForReadings(_ log: TemporaryLog, count: Int, timeout: Duration = .seconds(15)) async throws -> [Reading] {
        let deadline = ContinuousClock.now + timeout
        var readings = try LogContents.readings(of: log.readings)
        while readings.count < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            readings = try LogContents.readings(of: log.readings)
        }
        return readings
    }

    @Test func messagesFlowFromBrokerToLogAndBadOnesToDeadLetters() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("bridge")
        let log = try TemporaryLog()
        defer { log.log.close() }
        let bridge = try bridge(broker, log: log, clientID: "bridge-\(UInt32.random(in: 0...UInt32.max))", prefix: prefix)
        let publisher = try await publisher(broker)
        defer { publisher.disconnect() }
        try await running(bridge) {
            try await bridge.waitUntilConnected()
            try await Task.sleep(for: .milliseconds(100))
            for index in 0..<50 {
                try publisher.publish(topic: "\(prefix)/devices/d\(index % 5)/telemetry", payload: Array(#"{"seq": \#(index), "temperature": 20.5}"#.utf8))
            }
            try await publisher.publishAndWait(topic: "\(prefix)/devices/d9/telemetry", payload: Array("{not json".utf8))
            let readings = try await waitForReadings(log, count: 100)
            #expect(readings.count == 100)
            #expect(Set(readings.filter { $0.metric == "seq" }.map(\.value)) == Set((0..<50).map(Double.init)))
            let deadline = ContinuousClock.now + .seconds(5)
            while try LogContents.deadLetters(of: log.deadLetters).isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try LogContents.deadLetters(of: log.deadLetters).map(\.reason.rawValue) == ["malformed_json"])
        }
    }

    @Test func thePersistentSessionDeliversWhatWasPublishedWhileTheBridgeWasStopped() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("bridge-away")
        let log = try TemporaryLog()
        defer { log.log.close() }
        let clientID = try await sessionLeftBehind(broker, log: log, prefix: prefix)

        let publisher = try await publisher(broker)
        defer { publisher.disconnect() }
        for index in 0..<300 {
            try await publisher.publishAndWait(topic: "\(prefix)/devices/d1/seq", payload: Array("\(index)".utf8))
        }
        let second = try bridge(broker, log: log, clientID: clientID, prefix: prefix)
        let readings = try await running(second) { try await waitForReadings(log, count: 300) }
        #expect(readings.map(\.value) == (0..<300).map(Double.init), "every message, in order, exactly once")
    }

    @Test func aBacklogIsAcknowledgedInCorkedBurstsAllOfWhichLeave() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("bridge-bursts")
        let log = try TemporaryLog()
        defer { log.log.close() }
        let clientID = try await sessionLeftBehind(broker, log: log, prefix: prefix)

        let publisher = try await publisher(broker)
        defer { publisher.disconnect() }
        let count = 3_000
        for index in 0..<count {
            try publisher.publish(topic: "\(prefix)/devices/d\(index % 7)/seq", payload: Array("\(index)".utf8))
        }
        try await publisher.publishAndWait(topic: "\(prefix)/devices/d0/seq", payload: Array("\(count)".utf8))

        // The backlog arrives in bursts of many messages: their acknowledgements are written corked.
        let second = try bridge(broker, log: log, clientID: clientID, prefix: prefix)
        try await running(second) {
            let readings = try await waitForReadings(log, count: count + 1)
            #expect(readings.count == count + 1)
            #expect(Set(readings.map(\.value)) == Set((0...count).map(Double.init)))
            // Uncorked after every burst: a socket left corked would hold the next acknowledgements back.
            let deadline = ContinuousClock.now + .seconds(5)
            while second.acknowledgementsHeldBack && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(!second.acknowledgementsHeldBack)
        }
        // Every acknowledgement reached the broker: the same session has nothing left to send again.
        let third = try bridge(broker, log: log, clientID: clientID, prefix: prefix)
        try await running(third) { try await Task.sleep(for: .milliseconds(500)) }
        #expect(third.statistics.snapshot.messages == 0, "nothing redelivered")
        #expect(try LogContents.readings(of: log.readings).count == count + 1, "nothing stored twice")
    }

    @Test func aSharedSubscriptionSplitsMessagesBetweenTwoBridgesWithNothingMissing() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("bridge-share")
        let group = "kappa\(UInt32.random(in: 0...UInt32.max))"
        let logs = [try TemporaryLog(), try TemporaryLog()]
        defer { logs.forEach { $0.log.close() } }
        let bridges = try logs.enumerated().map { index, log in
            try bridge(broker, log: log, clientID: "\(group)-\(index)", prefix: prefix, shareGroup: group)
        }
        let services = bridges.map { bridge in Task { try await bridge.run() } }
        for bridge in bridges { try await bridge.waitUntilSubscribed() }
        try await Task.sleep(for: .milliseconds(200))
        let publisher = try await publisher(broker)
        let count = 500
        for index in 0..<count {
            try await publisher.publishAndWait(topic: "\(prefix)/devices/d\(index % 13)/seq", payload: Array("\(index)".utf8))
        }
        publisher.disconnect()
        let deadline = ContinuousClock.now + .seconds(15)
        var counts = [0, 0]
        while counts.reduce(0, +) < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            counts = try logs.map { try LogContents.readings(of: $0.readings).count }
        }
        services.forEach { $0.cancel() }
        for service in services { try await service.value }
        let all = try logs.flatMap { try LogContents.readings(of: $0.readings).map(\.value) }
        #expect(all.count == count, "each message in exactly one bridge: \(counts)")
        #expect(Set(all) == Set((0..<count).map(Double.init)))
        #expect(counts.allSatisfy { $0 > 0 }, "both bridges should take a share: \(counts)")
    }

    @Test func aTenMegabytePayloadIsOneCappedDeadLetterAndIntakeGoesOn() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("bridge-huge")
        let log = try TemporaryLog()
        defer { log.log.close() }
        // The gateway's default keep-alive: hashing 10 MiB for the dead letter takes the network thread
        // tens of milliseconds in a release build but seconds in a debug build on a loaded machine, and a
        // missed PINGREQ would be a reconnect this test did not mean to measure.
        let bridge = try bridge(broker, log: log, clientID: "bridge-\(UInt32.random(in: 0...UInt32.max))", prefix: prefix, keepAlive: .seconds(30))
        let publisher = try await publisher(broker)
        defer { publisher.disconnect() }
        let huge = [UInt8](repeating: UInt8(ascii: "7"), count: 10 << 20)
        try await running(bridge) {
            try await bridge.waitUntilConnected()
            try await publisher.publishAndWait(topic: "\(prefix)/devices/d1/telemetry", payload: huge)
            for index in 0..<20 {
                try await publisher.publishAndWait(topic: "\(prefix)/devices/d2/seq", payload: Array("\(index)".utf8))
            }
            let readings = try await waitForReadings(log, count: 20, timeout: .seconds(60))
            #expect(readings.map(\.value) == (0..<20).map(Double.init), "messages after the large one are taken in")
            let letters = try LogContents.deadLetters(of: log.deadLetters)
            #expect(letters.map(\.reason) == [.oversizedPayload])
            #expect(letters.first?.payloadSize == huge.count && letters.first?.payload.count == DeadLetter.payloadCap)
            #expect(letters.first?.payloadSHA256 == SHA256.hash(huge))
            #expect(bridge.connectionCount == 1, "the bridge never had to reconnect: \(bridge.lastProblem ?? "")")
            #expect(bridge.statistics.snapshot.pausedBecause == nil)
        }
    }

    @Test func whenTheLogRefusesAppendsIntakePausesAndResumesByItselfLosingNothing() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("bridge-floor")
        let log = try TemporaryLog(floorBytes: Int64.max / 2)
        defer { log.log.close() }
        let bridge = try bridge(broker, log: log, clientID: "bridge-\(UInt32.random(in: 0...UInt32.max))", prefix: prefix)
        let publisher = try await publisher(broker)
        defer { publisher.disconnect() }
        try await running(bridge) {
            try await Task.sleep(for: .milliseconds(100))
            for index in 0..<200 {
                try publisher.publish(topic: "\(prefix)/devices/d\(index % 3)/seq", payload: Array("\(index)".utf8))
            }
            let pausedDeadline = ContinuousClock.now + .seconds(5)
            while bridge.statistics.snapshot.pausedBecause == nil && ContinuousClock.now < pausedDeadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(bridge.statistics.snapshot.pausedBecause?.contains("floor") == true)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try LogContents.readings(of: log.readings).isEmpty, "nothing may be written while the floor is breached")

            log.log.diskFloorBytes = 0  // space is back
            let readings = try await waitForReadings(log, count: 200)
            #expect(Set(readings.map(\.value)) == Set((0..<200).map(Double.init)))
            // The readings are readable a moment before the bridge returns from the append and clears the pause.
            let resumedDeadline = ContinuousClock.now + .seconds(5)
            while bridge.statistics.snapshot.pausedBecause != nil && ContinuousClock.now < resumedDeadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(bridge.statistics.snapshot.pausedBecause == nil)
        }
    }

    @Test("subscriptions are confirmed only once the broker accepted the bridge, never while it refuses it")
    func subscriptionsAreNotConfirmedWhileTheBrokerRefuses() async throws {
        let broker = try await MosquittoBroker.start(options: .init(users: ["gateway": "s3cret"]))
        defer { broker.stop() }
        let log = try TemporaryLog()
        defer { log.log.close() }
        let refused = try bridge(broker, log: log, clientID: "refused-\(UInt32.random(in: 0...UInt32.max))", prefix: uniqueTopicPrefix("refused"))
        let service = Task { try await refused.run() }
        // Wait for the broker's refusal itself, however slow a loaded machine makes the first attempt.
        let deadline = ContinuousClock.now + .seconds(60)
        while refused.lastProblem?.contains("refused") != true && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refused.lastProblem?.contains("refused") == true)
        #expect(!refused.isSubscribed, "no connection was accepted, so nothing can be subscribed")
        service.cancel()
        _ = try? await service.value
    }
}
