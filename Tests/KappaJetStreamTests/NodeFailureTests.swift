import KappaCore
import KappaJetStream
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging
import Synchronization
import Testing

/// What happens to appends when NATS nodes die: each test runs its own cluster, since it kills nodes.
@Suite("JetStream log: node failures and outages", .serialized, .timeLimit(.minutes(3)))
struct JetStreamNodeFailureTests {
    /// Appends batches like the MQTT bridge does (the same records again after a transient error) on a
    /// dedicated thread until told to stop; returns every value it had acknowledged.
    final class Appender: Sendable {
        let stream: JetStreamStream
        let acknowledged = Atomic<Int>(0)
        let errors = Mutex<[String]>([])
        private let stopRequested = Atomic<Bool>(false)

        init(stream: JetStreamStream) {
            self.stream = stream
        }

        func run() async throws -> [[UInt8]] {
            try await Blocking.run { [self] in
                var values: [[UInt8]] = []
                var number = 0
                while !stopRequested.load(ordering: .acquiring) {
                    let batch = (number..<(number + 25)).map {
                        LogAppendRecord(key: "device-\($0 % 13)", eventTime: testTime($0), value: testValue($0))
                    }
                    let seen = try appendRetrying(stream, batch, until: .now + .seconds(60))
                    if !seen.isEmpty { errors.withLock { $0 += seen.map(\.description) } }
                    values += batch.map(\.value)
                    number += batch.count
                    acknowledged.store(number, ordering: .releasing)
                }
                return values
            }
        }

        func stop() { stopRequested.store(true, ordering: .releasing) }

        func waitFor(moreThan count: Int, timeout: Duration) async throws -> Bool {
            let deadline = ContinuousClock.now + timeout
            while acknowledged.load(ordering: .acquiring) <= count {
                guard ContinuousClock.now < deadline else { return false }
                try await Task.sleep(for: .milliseconds(20))
            }
            return true
        }
    }

    @Test("kill -9 the NATS node leading the most partitions during appends, restart it: every record read back exactly once, offsets dense")
    func killingOneNodeLosesAndDuplicatesNothing() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        let log = try await Blocking.run { try connect(cluster, requestTimeout: .seconds(2)) }
        defer { log.close() }
        let stream = try await Blocking.run { try log.createStream(named: "readings", partitionCount: 3) }
        let appender = Appender(stream: stream)
        let appending = Task { try await appender.run() }
        // A check that throws below must not leave the appender's thread appending for ever.
        defer { appender.stop() }

        #expect(try await appender.waitFor(moreThan: 500, timeout: .seconds(30)))
        let beforeKill = appender.acknowledged.load(ordering: .acquiring)
        let victim = try #require(cluster.nodeLeadingMost(of: (0..<3).map { "KAPPA_readings_\($0)" }), "no partition has a leader")
        try cluster.kill(node: victim.node)
        // Two of three nodes are a majority: after the streams that node led elect new leaders, appends go on.
        #expect(try await appender.waitFor(moreThan: beforeKill + 500, timeout: .seconds(30)), "appends continue on two nodes")
        try await cluster.restart(node: victim.node)
        let afterRestart = appender.acknowledged.load(ordering: .acquiring)
        #expect(try await appender.waitFor(moreThan: afterRestart + 500, timeout: .seconds(30)))
        appender.stop()
        let appended = try await appending.value

        let partitions = try await Blocking.run { try (0..<3).map { try readAll(stream, partition: $0) } }
        for (partition, records) in partitions.enumerated() {
            #expect(records.map(\.offset) == (0..<Int64(records.count)).map { $0 }, "partition \(partition) dense from 0")
        }
        let readBack = partitions.flatMap { $0.map { Array($0.value) } }
        #expect(readBack.count == appended.count, "as many records as acknowledged appends")
        #expect(Set(readBack) == Set(appended), "the same records")
        #expect(Set(readBack).count == readBack.count, "none twice")
        testLogger.info("kill test", metadata: [
            "killed": "nats-server \(victim.node), leader of \(victim.streams)", "records": "\(appended.count)",
            "transient errors": "\(appender.errors.withLock { $0.count })",
        ])
    }

    @Test("JetStream down: the bridge pauses intake and says why; NATS back: intake resumes by itself, every reading once")
    func anOutagePausesTheBridgeUntilJetStreamIsBack() async throws {
        let cluster = try await NATSCluster.start(nodes: 1)
        defer { cluster.stop() }
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("jetstream-outage")
        let log = try await Blocking.run { try connect(cluster, replicas: 1, requestTimeout: .seconds(1)) }
        defer { log.close() }
        let (readings, deadLetters) = try await Blocking.run {
            (try log.createStream(named: KappaStreams.readings, partitionCount: 4), try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1))
        }
        let bridge = try makeBridge(broker, prefix: prefix, readings: readings, deadLetters: deadLetters)
        let publisher = try await makePublisher(broker)
        defer { publisher.disconnect() }
        try await running(bridge) {
            for index in 0..<100 {
                try publisher.publish(topic: "\(prefix)/devices/d\(index % 7)/seq", payload: Array("\(index)".utf8))
            }
            #expect(try await waitForReadings(readings, count: 100).count == 100)

            cluster.stop(node: 0)
            for index in 100..<200 {
                try publisher.publish(topic: "\(prefix)/devices/d\(index % 7)/seq", payload: Array("\(index)".utf8))
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while bridge.statistics.snapshot.pausedBecause == nil && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let reason = bridge.statistics.snapshot.pausedBecause
            #expect(reason?.contains("unavailable") == true, "the pause names the cause: \(reason ?? "not paused")")

            try await cluster.restart(node: 0)
            let all = try await waitForReadings(readings, count: 200, timeout: .seconds(60))
            #expect(all.count == 200)
            #expect(Set(all.map(\.value)) == Set((0..<200).map(Double.init)), "every reading exactly once")
            // The records can be readable before the bridge's own append has returned and cleared the pause.
            let resumeDeadline = ContinuousClock.now + .seconds(10)
            while bridge.statistics.snapshot.pausedBecause != nil && ContinuousClock.now < resumeDeadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(bridge.statistics.snapshot.pausedBecause == nil, "resumed by itself")
        }
    }

    /// Publishes numbered readings at a steady pace on its own task, so a kill or a restart lands while the
    /// bridge takes them in.
    final class PacedPublisher: Sendable {
        let client: MQTTClient
        let prefix: String
        let published = Atomic<Int>(0)

        init(client: MQTTClient, prefix: String) {
            self.client = client
            self.prefix = prefix
        }

        /// About 200 readings a second, spread over 11 devices.
        func publish(_ range: Range<Int>) async throws {
            for index in range {
                try client.publish(topic: "\(prefix)/devices/d\(index % 11)/seq", payload: Array("\(index)".utf8))
                published.store(index + 1, ordering: .releasing)
                if index % 10 == 9 { try await Task.sleep(for: .milliseconds(50)) }
            }
        }
    }

    @Test("kill -9 the NATS node leading the most partitions under QoS 1 load through the MQTT bridge, restart it under load: every reading exactly once")
    func theBridgeOverJetStreamSurvivesANodeKill() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("jetstream-kill")
        let log = try await Blocking.run { try connect(cluster, requestTimeout: .seconds(2)) }
        defer { log.close() }
        let partitions = 4
        let (readings, deadLetters) = try await Blocking.run {
            (try log.createStream(named: KappaStreams.readings, partitionCount: partitions), try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1))
        }
        let bridge = try makeBridge(broker, prefix: prefix, readings: readings, deadLetters: deadLetters)
        let client = try await makePublisher(broker)
        defer { client.disconnect() }
        let publisher = PacedPublisher(client: client, prefix: prefix)
        let total = 3000
        func appended() -> Int { bridge.statistics.snapshot.readings }
        func waitForAppended(_ count: Int) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(60)
            while appended() < count {
                guard ContinuousClock.now < deadline else { return false }
                try await Task.sleep(for: .milliseconds(20))
            }
            return true
        }
        try await running(bridge) {
            // The first 2,000 readings take about 10 s to publish: the kill lands in the middle of them, and
            // the restart comes once the bridge went on appending on two nodes; the last 1,000 are published
            // only after the restart, so the returning node rejoins under load too.
            let firstPart = Task { try await publisher.publish(0..<2000) }
            #expect(try await waitForAppended(500), "the bridge appended \(appended()) readings before the kill")
            let streams = (0..<partitions).map { "KAPPA_\(KappaStreams.readings)_\($0)" }
            let victim = try #require(cluster.nodeLeadingMost(of: streams), "no readings partition has a leader")
            let publishedAtKill = publisher.published.load(ordering: .acquiring)
            let appendedAtKill = appended()
            try cluster.kill(node: victim.node)
            #expect(publishedAtKill < 2000, "the kill landed while readings were being published")
            #expect(try await waitForAppended(appendedAtKill + 500), "intake goes on while one node of three is dead: \(appended()) appended")
            let appendedAtRestart = appended()
            try await cluster.restart(node: victim.node)
            try await firstPart.value
            try await publisher.publish(2000..<total)
            let all = try await waitForReadings(readings, count: total, timeout: .seconds(90))
            let state = "bridge appended \(appended()), paused: \(bridge.statistics.snapshot.pausedBecause ?? "no")"
            testLogger.notice("node kill under the bridge", metadata: [
                "killed": "nats-server \(victim.node), leader of \(victim.streams)", "published at the kill": "\(publishedAtKill)",
                "appended at the kill": "\(appendedAtKill)", "appended at the restart": "\(appendedAtRestart)",
                "readings": "\(all.count)", "bridge": "\(state)",
                "high watermarks": "\((0..<readings.partitionCount).map { readings.offsets(partition: $0).highWatermark })",
            ])
            if all.count != total {
                let missing = Set(0..<total).subtracting(all.map { Int($0.value) }).sorted()
                testLogger.error("readings missing", metadata: ["values": "\(missing)"])
                for node in 0..<3 { testLogger.error("nats-server \(node) log", metadata: ["tail": "\(cluster.logTail(node: node, lines: 200))"]) }
            }
            #expect(all.count == total, "as many readings as published; \(state)")
            #expect(Set(all.map(\.value)) == Set((0..<total).map(Double.init)), "every reading exactly once; \(state)")
        }
    }

    // MARK: Bridge helpers (as in KappaMQTTTests' bridge tests)

    func makeBridge(_ broker: MosquittoBroker, prefix: String, readings: JetStreamStream, deadLetters: JetStreamStream) throws -> MQTTBridge {
        let mqtt = MQTTConfiguration(
            host: "127.0.0.1", port: broker.port, clientID: "bridge-\(UInt32.random(in: 0...UInt32.max))", cleanSession: false,
            reconnectBackoff: .init(initial: .milliseconds(50), maximum: .milliseconds(500))
        )
        let routes = [try TopicRoute("\(prefix)/devices/{device}/{metric}", format: .number)]
        return try MQTTBridge.make(
            configuration: BridgeConfiguration(mqtt: mqtt, routes: routes, retryInterval: .milliseconds(100)),
            readings: readings, deadLetters: deadLetters, logger: testLogger
        )
    }

    func makePublisher(_ broker: MosquittoBroker) async throws -> MQTTClient {
        let client = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port), logger: testLogger)
        try client.start()
        try await client.waitUntilConnected()
        return client
    }

    func running(_ bridge: MQTTBridge, _ body: () async throws -> Void) async throws {
        let service = Task { try await bridge.run() }
        try await bridge.waitUntilSubscribed()
        do {
            try await body()
            service.cancel()
            try await service.value
        } catch {
            service.cancel()
            _ = try? await service.value
            throw error
        }
    }

    /// Reads the whole stream until it holds `count` readings; a read that meets a leaderless partition (a
    /// node just died) is transient and tried again.
    func waitForReadings(_ stream: JetStreamStream, count: Int, timeout: Duration = .seconds(20)) async throws -> [Reading] {
        let deadline = ContinuousClock.now + timeout
        var readings: [Reading] = []
        while true {
            do {
                readings = try await Blocking.run { try LogContents.readings(of: stream) }
            } catch let error as LogError where error.isTransient && ContinuousClock.now < deadline {}
            if readings.count >= count || ContinuousClock.now >= deadline { return readings }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
