import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaSparkplug
import KappaTestSupport
import Logging
import Testing

/// Sparkplug B through `kappa run` as a real process: alias state that survives `kill -9` because births are
/// in the log, the primary host's `STATE` birth and will, and births and deaths in the device registry.
@Suite("Sparkplug B through kappa run: restarts, STATE, deaths", .serialized, .timeLimit(.minutes(4)))
struct SparkplugGatewayTests {
    let logger = Logger(label: "kappa.test.e2e.sparkplug")

    func client(_ broker: MosquittoBroker, collector: MessageCollector? = nil) async throws -> MQTTClient {
        var handler: MQTTClient.MessageHandler = { _ in }
        if let collector { handler = collector.handler }
        let client = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port), logger: logger, onMessage: handler)
        try client.start()
        try await client.waitUntilConnected()
        return client
    }

    /// The `STATE` messages a collector saw, decoded.
    func hostStates(_ collector: MessageCollector) -> [(online: Bool, timestamp: Int64, retained: Bool)] {
        collector.received.compactMap { message in
            guard let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
                  let online = object["online"] as? Bool, let timestamp = (object["timestamp"] as? NSNumber)?.int64Value
            else { return nil }
            return (online, timestamp, message.retain)
        }
    }

    func metric(_ name: String, port: Int) async throws -> Double {
        let response = try await HTTPProbe.get("http://127.0.0.1:\(port)/metrics")
        return PrometheusSamples(parsing: response.body).total(name)
    }

    func describe(_ readings: [Reading]) -> [String] {
        readings.map { "\($0.device) \($0.metric) \($0.time) \($0.value)" }.sorted()
    }

    enum LogBackend: String, CaseIterable, Sendable {
        case disk
        /// A one-node NATS JetStream cluster (`--log nats://…`): the same restore through the same protocol.
        case jetStream
    }

    @Test("kill -9 between a birth and its aliased data, restart: the readings of an uninterrupted run, no dead letter; replayed from the log, the same; STATE birth retained, the will announces the death", arguments: LogBackend.allCases)
    func killNineBetweenBirthAndData(backend: LogBackend) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let cluster = backend == .jetStream ? try await NATSCluster.start(nodes: 1) : nil
        defer { cluster?.stop() }
        let logArguments = cluster.map { ["--log", $0.urls.joined(separator: ","), "--log-replicas", "1", "--partitions", "4"] } ?? []
        let root = try TemporaryDirectory.make(prefix: "kappa-e2e-sparkplug")
        let dataDirectory = "\(root)/data"
        let clientID = "kappa-sparkplug-\(UInt32.random(in: 0...UInt32.max))"
        let hostID = "kappa-e2e-\(UInt32.random(in: 0...UInt32.max))"
        let httpPort = LoopbackPort.free()
        func startGateway(_ run: Int) throws -> KappaProcess {
            try KappaProcess(arguments: [
                "run", "--roles", "bridge", "--sparkplug", "--sparkplug-host-id", hostID,
                "--mqtt", broker.url, "--client-id", clientID, "--data-dir", dataDirectory,
                "--disk-floor-mb", "0", "--http", "127.0.0.1:\(httpPort)",
            ] + logArguments, outputFile: "\(root)/kappa-run-\(run).log")
        }
        let states = MessageCollector()
        let watcher = try await client(broker, collector: states)
        defer { watcher.disconnect() }
        try await watcher.subscribe([MQTTSubscription("spBv1.0/STATE/\(hostID)", qos: .atLeastOnce)])

        var gateway = try startGateway(1)
        #expect(await gateway.waitForOutput(containing: "MQTT subscriptions confirmed"), "gateway did not subscribe:\n\(gateway.output)")
        #expect(backend == .disk || gateway.output.contains("the log is on NATS JetStream"), "\(gateway.output.suffix(2000))")
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { hostStates(states).contains { $0.online } }, "no STATE birth: \(hostStates(states))")
        // A subscriber that comes later gets the birth from the broker: it is retained.
        let late = MessageCollector()
        let lateClient = try await client(broker, collector: late)
        try await lateClient.subscribe([MQTTSubscription("spBv1.0/STATE/\(hostID)", qos: .atLeastOnce)])
        await late.waitFor(count: 1)
        lateClient.disconnect()
        #expect(hostStates(late).map(\.online) == [true] && hostStates(late).first?.retained == true, "\(hostStates(late))")

        let group = "kappa-e2e-\(UInt32.random(in: 0...UInt32.max))"
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-1"), birthSequence: 1)
        let publisher = try await client(broker)
        defer { publisher.disconnect() }
        let base = Timestamp(millisecondsSinceEpoch: Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 60_000)
        func at(_ seconds: Int64) -> Timestamp { base.adding(nanoseconds: seconds * 1_000_000_000) }
        let births = [
            try edge.nodeBirth([("Supply/Voltage", 230)], at: at(0)),
            try edge.deviceBirth("boiler", [("Temperature", 80), ("Pressure", 1.5)], at: at(0)),
        ]
        for message in births {
            try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
        }
        // The births' three readings are in this gateway's log, so the births were acknowledged: then kill it.
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { try await metric("kappa_readings_appended_total", port: httpPort) >= 3 }, "the births were not stored:\n\(gateway.output)")
        gateway.signal(SIGKILL)
        _ = await gateway.waitForExit()
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { hostStates(states).contains { !$0.online } }, "the will did not announce the death: \(hostStates(states))")
        let birthTimestamp = try #require(hostStates(states).first { $0.online }?.timestamp)
        #expect(hostStates(states).first { !$0.online }?.timestamp == birthTimestamp, "the will carries the birth's timestamp")

        // Data by alias only, while the gateway is down: the broker keeps it in the gateway's session.
        let data = try (1...3).map { step in
            try edge.data("boiler", [("Temperature", 80 + Double(step), at(Int64(step))), ("Pressure", 1.5 + Double(step) / 10, at(Int64(step)))], at: at(Int64(step)))
        }
        for message in data {
            try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
        }
        gateway = try startGateway(2)
        #expect(await gateway.waitForOutput(containing: "Sparkplug session restored from the log"), "\(gateway.output)")
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { try await metric("kappa_readings_appended_total", port: httpPort) >= 6 }, "the data was not stored:\n\(gateway.output)")
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { hostStates(states).last?.online == true }, "no new STATE birth after the restart: \(hostStates(states))")
        #expect(try await metric("kappa_sparkplug_sequence_gaps_total", port: httpPort) == 0, "the first data after a restore is no gap")
        #expect(try await metric("kappa_dead_letters_total", port: httpPort) == 0, "\(gateway.output.suffix(2000))")
        gateway.signal(SIGTERM)
        #expect(await gateway.waitForExit() == 0, "graceful stop should exit 0:\n\(gateway.output.suffix(2000))")
        // A clean disconnect fires no will: the gateway publishes its death itself.
        #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { hostStates(states).last?.online == false }, "no STATE death on graceful stop: \(hostStates(states))")
        // JetStream's contents were checked through the gateway's counters above; the disk log is read back whole.
        guard backend == .disk else { return }

        let log = try DiskLog(directory: dataDirectory, logger: logger)
        defer { log.close() }
        let readings = try LogContents.readings(of: log.openStream(named: KappaStreams.readings)).filter { $0.device.hasPrefix("\(group)/") }
        let deadLetters = try LogContents.deadLetters(of: log.openStream(named: KappaStreams.deadLetters)).filter { $0.topic.contains("/\(group)/") }
        var uninterrupted = SparkplugSession()
        var expected: [Reading] = []
        for message in births + data {
            expected += uninterrupted.receive(topic: try #require(SparkplugTopic(message.topic)), payload: message.payload, receivedAt: .now()).readings
        }
        #expect(expected.count == 9)
        #expect(describe(readings) == describe(expected))
        #expect(deadLetters.isEmpty, "\(deadLetters.map { "\($0.reason.rawValue): \($0.message)" })")

        // Replay from the earliest offset: the births the log kept, then the same data, decode what live did.
        let lifecycle = try LogContents.sparkplugLifecycle(of: log.openStream(named: KappaStreams.sparkplugLifecycle)).filter { $0.topic.contains("/\(group)/") }
        #expect(lifecycle.map(\.topic) == births.map(\.topic))
        #expect(lifecycle.map(\.payload) == births.map(\.payload))
        var replay = SparkplugSession()
        var replayed: [Reading] = []
        for entry in lifecycle {
            replayed += replay.receive(topic: try #require(SparkplugTopic(entry.topic)), payload: entry.payload, receivedAt: entry.receivedAt).readings
        }
        for message in data {
            replayed += replay.receive(topic: try #require(SparkplugTopic(message.topic)), payload: message.payload, receivedAt: .now()).readings
        }
        #expect(describe(replayed) == describe(readings))
    }

    @Test("kappa dead-letters replay: data dead-lettered before its birth (sparkplug_no_birth) becomes the readings the birth that answered it resolves, once")
    func deadLettersReplayWithTheKeptBirths() async throws {
        try await GatewayUnderTest.withFresh(name: "sparkplug-replay") { gateway in
            let process = try await gateway.start(extraArguments: ["--roles", "bridge", "--sparkplug"])
            let group = "kappa-e2e-\(UInt32.random(in: 0...UInt32.max))"
            let publisher = try await client(gateway.broker)
            defer { publisher.disconnect() }
            let now = Timestamp(millisecondsSinceEpoch: Timestamp.now().nanosecondsSinceEpoch / 1_000_000)
            var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-1"))
            let births = [try edge.nodeBirth([("Voltage", 230)], at: now), try edge.deviceBirth("boiler", [("Temperature", 80)], at: now)]
            // Sent before the births reach the gateway (an edge node born while the gateway was away).
            let early = try edge.data("boiler", [("Temperature", 81, now.adding(nanoseconds: 1_000_000_000))], at: now)
            let later = try edge.data("boiler", [("Temperature", 82, now.adding(nanoseconds: 2_000_000_000))], at: now)
            for message in [early] + births + [later] {
                try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
            }
            #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) {
                let metrics = try await gateway.metrics()
                return metrics.total("kappa_readings_appended_total") >= 3 && metrics.total("kappa_dead_letters_total", matching: ["reason": "sparkplug_no_birth"]) == 1
            }, "\(process.output.suffix(2000))")
            process.signal(SIGTERM)
            #expect(await process.waitForExit() == 0)

            func replay(_ run: Int) async throws -> String {
                let replay = try KappaProcess(arguments: [
                    "dead-letters", "replay", "--data-dir", gateway.dataDirectory, "--database", gateway.database.conninfo, "--sparkplug",
                ], outputFile: "\(gateway.root)/replay-\(run).log")
                #expect(await replay.waitForExit(timeout: .seconds(60)) == 0, "\(replay.output)")
                return replay.output
            }
            _ = try await replay(1)
            _ = try await replay(2)  // claims in PostgreSQL: nothing appended twice

            let log = try DiskLog(directory: gateway.dataDirectory, logger: logger)
            defer { log.close() }
            let readings = try LogContents.readings(of: log.openStream(named: KappaStreams.readings)).filter { $0.device.hasPrefix("\(group)/") }
            var session = SparkplugSession()
            var expected: [Reading] = []
            for message in births + [early, later] {
                expected += session.receive(topic: try #require(SparkplugTopic(message.topic)), payload: message.payload, receivedAt: now).readings
            }
            #expect(describe(readings) == describe(expected))
        }
    }

    @Test("the registry: births online, DDEATH offline, a stale NDEATH changes nothing (counted), the session's NDEATH takes node and devices offline, a new birth brings them back; a seq gap asks for a rebirth and is counted")
    func deathsInTheRegistry() async throws {
        try await GatewayUnderTest.withFresh(name: "sparkplug-deaths") { gateway in
            try await gateway.start(extraArguments: ["--sparkplug", "--sparkplug-host-id", "kappa-e2e-\(UInt32.random(in: 0...UInt32.max))"])
            let group = "kappa-e2e-\(UInt32.random(in: 0...UInt32.max))"
            let node = "\(group)/edge-1"
            let boiler = "\(node)/boiler"
            let pump = "\(node)/pump"
            let commands = MessageCollector()
            let commandSubscriber = try await client(gateway.broker, collector: commands)
            defer { commandSubscriber.disconnect() }
            try await commandSubscriber.subscribe([MQTTSubscription("spBv1.0/\(group)/NCMD/edge-1", qos: .atLeastOnce)])
            let publisher = try await client(gateway.broker)
            defer { publisher.disconnect() }
            func publish(_ message: SparkplugEdgeNodePublisher.Message) async throws {
                try await publisher.publishAndWait(topic: message.topic, payload: message.payload)
            }
            func statuses() async throws -> [String: String] {
                try await gateway.withDatabase { connection in
                    var found: [String: String] = [:]
                    for row in try await connection.query("SELECT device, status FROM kappa.devices WHERE device LIKE $1", [.text("\(group)/%")]) {
                        found[try row["device"].string] = try row["status"].string
                    }
                    return found
                }
            }
            func waitForStatuses(_ expected: [String: String], _ step: String) async {
                var last: [String: String] = [:]
                let reached = await eventually(timeout: .seconds(60)) {
                    last = try await statuses()
                    return last == expected
                }
                #expect(reached, "\(step): \(last)")
            }
            let now = Timestamp.now()
            var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: group, node: "edge-1"), birthSequence: 5)
            try await publish(try edge.nodeBirth([("Supply/Voltage", 230)], at: now))
            try await publish(try edge.deviceBirth("boiler", [("Temperature", 80)], at: now))
            try await publish(try edge.deviceBirth("pump", [("Flow", 3)], at: now))
            await waitForStatuses([node: "online", boiler: "online", pump: "online"], "births")

            try await publish(try edge.deviceDeath("pump", at: now))
            await waitForStatuses([node: "online", boiler: "online", pump: "offline"], "DDEATH")

            // The will of an earlier session (bdSeq 4) delivered late: ignored, counted. The pump's new birth
            // behind it, in the same partition, shows when the registry has read past it.
            try await publish(try SparkplugEdgeNodePublisher(edgeNode: edge.edgeNode, birthSequence: 4).nodeDeath())
            try await publish(try edge.deviceBirth("pump", [("Flow", 4)], at: now))
            await waitForStatuses([node: "online", boiler: "online", pump: "online"], "stale NDEATH, then the pump born again")
            #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { try await gateway.metrics().total("kappa_sparkplug_stale_deaths_total") == 1 })

            // A seq gap: one data message never arrives.
            _ = try edge.data("boiler", [("Temperature", 81, now)], at: now)
            try await publish(try edge.data("boiler", [("Temperature", 82, now)], at: now))
            await commands.waitFor(count: 1)
            #expect(commands.received.count == 1, "one rebirth request for the gap")
            #expect(await eventually(timeout: .seconds(30), every: .milliseconds(50)) { try await gateway.metrics().total("kappa_sparkplug_sequence_gaps_total") == 1 })
            #expect(try await gateway.metrics().total("kappa_sparkplug_rebirth_requests_total") == 1)

            try await publish(try edge.nodeDeath())
            await waitForStatuses([node: "offline", boiler: "offline", pump: "offline"], "the session's NDEATH")

            var reborn = SparkplugEdgeNodePublisher(edgeNode: edge.edgeNode, birthSequence: 6)
            try await publish(try reborn.nodeBirth([("Supply/Voltage", 231)], at: now))
            await waitForStatuses([node: "online", boiler: "offline", pump: "offline"], "NBIRTH again")
            try await publish(try reborn.deviceBirth("boiler", [("Temperature", 83)], at: now))
            await waitForStatuses([node: "online", boiler: "online", pump: "offline"], "DBIRTH again")
        }
    }
}
