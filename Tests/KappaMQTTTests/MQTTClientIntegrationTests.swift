import Foundation
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// Against a real mosquitto started by the harness.
@Suite("MQTT client against a real broker", .timeLimit(.minutes(2)))
struct MQTTClientIntegrationTests {
    let logger = Logger(label: "kappa.test.mqtt")

    func configuration(_ broker: MosquittoBroker, clientID: String? = nil, cleanSession: Bool = true, version: MQTTConfiguration.ProtocolVersion = .v311) -> MQTTConfiguration {
        MQTTConfiguration(
            host: "127.0.0.1", port: broker.port, clientID: clientID, cleanSession: cleanSession,
            protocolVersion: version,
            reconnectBackoff: .init(initial: .milliseconds(50), maximum: .milliseconds(500))
        )
    }

    func connectedClient(_ configuration: MQTTConfiguration, collector: MessageCollector? = nil) async throws -> MQTTClient {
        let client: MQTTClient
        if let collector {
            client = try MQTTClient.make(configuration: configuration, logger: logger, onMessage: collector.handler)
        } else {
            client = try MQTTClient.make(configuration: configuration, logger: logger)
        }
        try client.start()
        try await client.waitUntilConnected()
        return client
    }

    @Test("publish and subscribe round trip", arguments: MQTTQoS.allCases, [MQTTConfiguration.ProtocolVersion.v311, .v5])
    func roundTrip(qos: MQTTQoS, version: MQTTConfiguration.ProtocolVersion) async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("roundtrip")
        let collector = MessageCollector()
        let subscriber = try await connectedClient(configuration(broker, version: version), collector: collector)
        defer { subscriber.disconnect() }
        try await subscriber.subscribe([MQTTSubscription("\(prefix)/#", qos: qos)])
        let publisher = try await connectedClient(configuration(broker, version: version))
        defer { publisher.disconnect() }

        let payloads: [[UInt8]] = [Array("21.5".utf8), [], Array(0...255), Array(repeating: 0x7B, count: 100_000)]
        for (index, payload) in payloads.enumerated() {
            try await publisher.publishAndWait(topic: "\(prefix)/devices/d\(index)/temperature", payload: payload, qos: qos)
        }
        let received = await collector.waitFor(count: payloads.count)
        try #require(received.count == payloads.count, "received \(received.count) of \(payloads.count)")
        for (index, payload) in payloads.enumerated() {
            let message = try #require(received.first { $0.topic == "\(prefix)/devices/d\(index)/temperature" })
            #expect(message.payload == payload)
            #expect(message.qos == qos)
        }
    }

    @Test("reconnects and resubscribes after the broker restarts")
    func reconnectAfterBrokerRestart() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let prefix = uniqueTopicPrefix("restart")
        let collector = MessageCollector()
        // A clean session: the broker forgets it on restart, so only our resubscription brings messages back.
        let subscriber = try await connectedClient(configuration(broker), collector: collector)
        defer { subscriber.disconnect() }
        try await subscriber.subscribe([MQTTSubscription("\(prefix)/#", qos: .atLeastOnce)])
        let before = subscriber.connectionCount

        try await broker.restart()
        try await subscriber.waitUntilConnected(count: before + 1, timeout: .seconds(20))
        #expect(subscriber.connectionCount == before + 1)

        let publisher = try await connectedClient(configuration(broker))
        defer { publisher.disconnect() }
        // The SUBSCRIBE goes out right after CONNACK; give the broker a moment to process it before publishing.
        var delivered = false
        for attempt in 0..<50 where !delivered {
            try await publisher.publishAndWait(topic: "\(prefix)/after-restart", payload: Array("\(attempt)".utf8), qos: .atLeastOnce)
            delivered = await collector.waitFor(count: 1, timeout: .milliseconds(200)).count > 0
        }
        #expect(delivered, "no message arrived after the broker restart: the client did not resubscribe")
    }

    @Test("a persistent session receives the QoS 1 messages published while the client was away", arguments: [MQTTConfiguration.ProtocolVersion.v311, .v5])
    func persistentSession(version: MQTTConfiguration.ProtocolVersion) async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("session")
        let clientID = "kappa-test-\(UInt32.random(in: 0...UInt32.max))"
        let first = try await connectedClient(configuration(broker, clientID: clientID, cleanSession: false, version: version))
        try await first.subscribe([MQTTSubscription("\(prefix)/#", qos: .atLeastOnce)])
        first.disconnect()

        let publisher = try await connectedClient(configuration(broker, version: version))
        defer { publisher.disconnect() }
        let count = 200
        for index in 0..<count {
            try publisher.publish(topic: "\(prefix)/m", payload: Array("\(index)".utf8), qos: .atLeastOnce)
        }
        try await publisher.publishAndWait(topic: "\(prefix)/m", payload: Array("last".utf8), qos: .atLeastOnce)

        let collector = MessageCollector()
        let second = try await connectedClient(configuration(broker, clientID: clientID, cleanSession: false, version: version), collector: collector)
        defer { second.disconnect() }
        let received = await collector.waitFor(count: count + 1)
        #expect(received.count == count + 1)
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<count).map(String.init) + ["last"])
    }

    @Test("a shared subscription splits messages between clients with none missing")
    func sharedSubscription() async throws {
        let broker = try await MosquittoBroker.shared
        let prefix = uniqueTopicPrefix("share")
        let group = "g\(UInt32.random(in: 0...UInt32.max))"
        let collectors = [MessageCollector(), MessageCollector()]
        var members: [MQTTClient] = []
        for collector in collectors {
            let member = try await connectedClient(configuration(broker), collector: collector)
            try await member.subscribe([MQTTSubscription("$share/\(group)/\(prefix)/#", qos: .atLeastOnce)])
            members.append(member)
        }
        defer { members.forEach { $0.disconnect() } }
        let publisher = try await connectedClient(configuration(broker))
        defer { publisher.disconnect() }
        let count = 400
        for index in 0..<count {
            try await publisher.publishAndWait(topic: "\(prefix)/d\(index % 7)", payload: Array("\(index)".utf8), qos: .atLeastOnce)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while collectors.map(\.count).reduce(0, +) < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let all = collectors.flatMap { $0.received.map { String(decoding: $0.payload, as: UTF8.self) } }
        #expect(Set(all) == Set((0..<count).map(String.init)))
        #expect(all.count == count, "no message should reach both members")
        #expect(collectors.allSatisfy { $0.count > 0 }, "both members should get a share: \(collectors.map(\.count))")
    }

    @Test("username and password: accepted when right, refused with a clear reason when wrong")
    func authentication() async throws {
        let broker = try await MosquittoBroker.start(options: .init(users: ["gateway": "s3cret"]))
        defer { broker.stop() }
        var good = configuration(broker)
        good.username = "gateway"
        good.password = "s3cret"
        let accepted = try await connectedClient(good)
        accepted.disconnect()

        var bad = good
        bad.password = "wrong"
        let refused = try MQTTClient.make(configuration: bad, logger: logger)
        try refused.start()
        defer { refused.disconnect() }
        await #expect(throws: MQTTError.self) { try await refused.waitUntilConnected(timeout: .seconds(2)) }
        let problem = try #require(refused.lastProblem)
        #expect(problem.contains("refused"))
        #expect(!problem.contains("wrong"), "the password must not appear in the problem text")
    }

    @Test("TLS with a CA file")
    func tls() async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-tls")
        let certificates = try TestCertificates.make(in: directory)
        let broker = try await MosquittoBroker.start(options: .init(tls: (certificates.serverCertificate, certificates.serverKey)))
        defer { broker.stop() }
        let prefix = uniqueTopicPrefix("tls")
        var secure = configuration(broker)
        secure.tls = .init(caFile: certificates.caCertificate)
        let collector = MessageCollector()
        let client = try await connectedClient(secure, collector: collector)
        defer { client.disconnect() }
        try await client.subscribe([MQTTSubscription("\(prefix)/#")])
        try await client.publishAndWait(topic: "\(prefix)/x", payload: Array("over tls".utf8))
        #expect(await collector.waitFor(count: 1).first?.payload == Array("over tls".utf8))

        // Without the CA the broker's certificate is not trusted, and the client never connects.
        var untrusted = configuration(broker)
        untrusted.tls = .init(caFile: "/etc/ssl/certs/ca-certificates.crt")
        let stranger = try MQTTClient.make(configuration: untrusted, logger: logger)
        try stranger.start()
        defer { stranger.disconnect() }
        await #expect(throws: MQTTError.self) { try await stranger.waitUntilConnected(timeout: .seconds(2)) }
    }

    @Test("disconnect fails pending waits instead of hanging")
    func disconnectFailsWaiters() async throws {
        let broker = try await MosquittoBroker.start()
        let client = try await connectedClient(configuration(broker))
        broker.stop()
        // Published while the broker is gone: the PUBACK can never come.
        let waiting = Task { try await client.publishAndWait(topic: "kappa-test/lost", payload: [1], qos: .atLeastOnce) }
        try await Task.sleep(for: .milliseconds(200))
        client.disconnect()
        await #expect(throws: MQTTError.self) { try await waiting.value }
    }
}
