import Foundation
import KappaCore
import KappaJetStream
import KappaLog
import KappaTestSupport
import Testing

/// The JetStream log against a nats-server that requires TLS, with certificates from a throwaway CA made with
/// openssl in the test: the right CA appends and reads back; another CA, no TLS, or a missing client
/// certificate where the server verifies clients are refused at once with an error that says so.
@Suite("JetStream log: TLS to NATS", .serialized, .timeLimit(.minutes(2)))
struct JetStreamTLSTests {
    struct Setup {
        var directory: String
        var certificates: TestCertificates
        /// Signed by a CA of their own, which did not sign the server's certificate.
        var strangers: TestCertificates
        var cluster: NATSCluster

        func stop() {
            cluster.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    static func setUp(verifiesClients: Bool) async throws -> Setup {
        let directory = try TemporaryDirectory.make(prefix: "kappa-nats-tls")
        let (certificates, strangers) = try await Blocking.run {
            try FileManager.default.createDirectory(atPath: "\(directory)/ours", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(directory)/strangers", withIntermediateDirectories: true)
            return (try TestCertificates.make(in: "\(directory)/ours"), try TestCertificates.make(in: "\(directory)/strangers"))
        }
        let cluster = try await NATSCluster.start(nodes: 1, tls: .init(certificates: certificates, verifiesClients: verifiesClients))
        return Setup(directory: directory, certificates: certificates, strangers: strangers, cluster: cluster)
    }

    func configuration(_ cluster: NATSCluster, trusting ca: String?, certificate: String? = nil, key: String? = nil) -> JetStreamConfiguration {
        var configuration = JetStreamConfiguration(servers: cluster.urls, replicas: 1)
        configuration.requestTimeout = .seconds(2)
        configuration.trustedCertificates = ca
        configuration.certificateFile = certificate
        configuration.keyFile = key
        return configuration
    }

    /// Appends 20 records and reads them back through `configuration`; throws what the log threw.
    func roundTrip(_ configuration: JetStreamConfiguration) async throws -> [[UInt8]] {
        try await Blocking.run {
            let log = try JetStreamLog.connect(configuration: configuration, logger: testLogger)
            defer { log.close() }
            let stream = try log.createStream(named: uniqueStreamName("tls"), partitionCount: 1)
            _ = try stream.append((0..<20).map { LogAppendRecord(key: "device", eventTime: testTime($0), value: testValue($0)) })
            return try readAll(stream, partition: 0).map { Array($0.value) }
        }
    }

    /// The error connecting through `configuration` throws, and how long it took to come.
    func refusal(_ configuration: JetStreamConfiguration) async -> (error: LogError?, after: Duration) {
        let started = ContinuousClock.now
        let error = await #expect(throws: LogError.self) { _ = try await roundTrip(configuration) }
        return (error, ContinuousClock.now - started)
    }

    @Test("TLS: the CA that signed the server's certificate appends and reads back; another CA, or no TLS, is refused with a clear error")
    func serverCertificate() async throws {
        let setup = try await Self.setUp(verifiesClients: false)
        defer { setup.stop() }
        let values = try await roundTrip(configuration(setup.cluster, trusting: setup.certificates.caCertificate))
        #expect(values == (0..<20).map(testValue), "every record read back in order over TLS")

        let (wrongCA, wrongCAAfter) = await refusal(configuration(setup.cluster, trusting: setup.strangers.caCertificate))
        #expect(wrongCA?.message.contains("TLS") == true && wrongCA?.message.contains("log.nats.tls.ca_file") == true, "\(String(describing: wrongCA))")
        // Refused, not retried in the background until some later append times out.
        #expect(wrongCAAfter < .seconds(30), "refused after \(wrongCAAfter)")

        // libnats starts TLS by itself when the server requires it, then cannot verify the server without the CA.
        let (plain, _) = await refusal(configuration(setup.cluster, trusting: nil))
        #expect(plain?.message.contains("NATS refused the connection") == true && plain?.message.contains("log.nats.tls.ca_file") == true, "\(String(describing: plain))")
    }

    @Test("mutual TLS: with the client certificate it appends and reads back; without one, or with a stranger's, it is refused")
    func clientCertificate() async throws {
        let setup = try await Self.setUp(verifiesClients: true)
        defer { setup.stop() }
        let ours = setup.certificates
        let values = try await roundTrip(configuration(setup.cluster, trusting: ours.caCertificate, certificate: ours.clientCertificate, key: ours.clientKey))
        #expect(values == (0..<20).map(testValue), "every record read back in order over mutual TLS")

        let (missing, _) = await refusal(configuration(setup.cluster, trusting: ours.caCertificate))
        #expect(missing?.message.contains("NATS refused the connection") == true && missing?.message.contains("log.nats.tls.cert_file") == true,
                "\(String(describing: missing))")

        let strangers = setup.strangers
        let (stranger, _) = await refusal(configuration(setup.cluster, trusting: ours.caCertificate, certificate: strangers.clientCertificate, key: strangers.clientKey))
        #expect(stranger?.message.contains("NATS refused the connection") == true && stranger?.message.contains("log.nats.tls.cert_file") == true,
                "\(String(describing: stranger))")
    }
}
