import KappaCore
import KappaJetStream
import KappaLog
import KappaTestSupport
import Testing

/// The JetStream log against a nats-server that requires a user and password, or a token.
@Suite("JetStream log: NATS credentials", .serialized, .timeLimit(.minutes(2)))
struct JetStreamCredentialsTests {
    func configuration(_ cluster: NATSCluster, user: String? = nil, password: String? = nil, token: String? = nil) -> JetStreamConfiguration {
        var configuration = JetStreamConfiguration(servers: cluster.urls, replicas: 1)
        configuration.requestTimeout = .seconds(2)
        configuration.user = user
        configuration.password = password
        configuration.token = token
        return configuration
    }

    /// Appends and reads back through `configuration`; throws what the log threw.
    func roundTrip(_ configuration: JetStreamConfiguration) throws -> Int {
        let log = try JetStreamLog.connect(configuration: configuration, logger: testLogger)
        defer { log.close() }
        let stream = try log.createStream(named: uniqueStreamName("credentials"), partitionCount: 1)
        _ = try stream.append((0..<20).map { LogAppendRecord(key: "device", eventTime: testTime($0), value: testValue($0)) })
        return try readAll(stream, partition: 0).count
    }

    @Test("user and password: the right ones append and read back; a wrong password or none gets nothing in")
    func userAndPassword() async throws {
        let cluster = try await NATSCluster.start(nodes: 1, authorization: .user("kappa", password: "s3cret-pass"))
        defer { cluster.stop() }
        #expect(try await Blocking.run { try roundTrip(configuration(cluster, user: "kappa", password: "s3cret-pass")) } == 20)
        let wrong = await #expect(throws: LogError.self, "a wrong password") {
            try await Blocking.run { try roundTrip(configuration(cluster, user: "kappa", password: "wrong")) }
        }
        #expect(wrong?.message.contains("NATS refused the connection") == true, "\(String(describing: wrong))")
        let none = await #expect(throws: LogError.self, "no credentials") {
            try await Blocking.run { try roundTrip(configuration(cluster)) }
        }
        #expect(none?.message.contains("NATS refused the connection") == true, "\(String(describing: none))")
    }

    @Test("token: the right one appends and reads back; a wrong one gets nothing in")
    func token() async throws {
        let cluster = try await NATSCluster.start(nodes: 1, authorization: .token("kappa-token-1"))
        defer { cluster.stop() }
        #expect(try await Blocking.run { try roundTrip(configuration(cluster, token: "kappa-token-1")) } == 20)
        let wrong = await #expect(throws: LogError.self, "a wrong token") {
            try await Blocking.run { try roundTrip(configuration(cluster, token: "kappa-token-2")) }
        }
        #expect(wrong?.message.contains("NATS refused the connection") == true, "\(String(describing: wrong))")
    }
}
