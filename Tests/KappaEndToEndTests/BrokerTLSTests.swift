import Foundation
import KappaTestSupport
import Testing

/// `kappa run` against a mosquitto that wants TLS, a password and a client certificate, all given the ways an
/// operator gives them: flags, environment variables and the configuration file. A throwaway CA, made with
/// openssl in the test; a CA that did not sign the broker's certificate is refused.
@Suite("kappa run: TLS and authentication")
struct BrokerTLSTests {
    struct Setup {
        var directory: String
        var certificates: TestCertificates
        var broker: MosquittoBroker
    }

    static func setUp(requireClientCertificate: Bool) async throws -> Setup {
        let directory = try TemporaryDirectory.make(prefix: "kappa-tls")
        let certificates = try TestCertificates.make(in: directory)
        let broker = try await MosquittoBroker.start(options: .init(
            users: ["gateway": "s3cret pass"],
            tls: (certificates.serverCertificate, certificates.serverKey),
            requireClientCertificateFrom: requireClientCertificate ? certificates.caCertificate : nil
        ))
        try "s3cret pass\n".write(toFile: "\(directory)/mqtt-password", atomically: true, encoding: .utf8)
        return Setup(directory: directory, certificates: certificates, broker: broker)
    }

    /// Starts a bridge-only gateway and waits up to `timeout` for the broker's CONNACK ("MQTT connected"; the
    /// bridge may say "subscriptions confirmed" before a connect fails, see issue 12); returns whether it came.
    static func subscribes(
        _ setup: Setup, arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(20)
    ) async throws -> (Bool, String) {
        let run = try KappaProcess(arguments: [
            "run", "--roles", "bridge", "--data-dir", "\(setup.directory)/data-\(UInt32.random(in: 0...UInt32.max))",
            "--http", "127.0.0.1:\(LoopbackPort.free())", "--disk-floor-mb", "0",
        ] + arguments, environment: environment, outputFile: "\(setup.directory)/kappa-\(UInt32.random(in: 0...UInt32.max)).log")
        let confirmed = await run.waitForOutput(containing: "MQTT connected", timeout: timeout)
        run.signal(SIGTERM)
        _ = await run.waitForExit()
        return (confirmed, run.output)
    }

    @Test("CA, password file and client certificate from flags", .timeLimit(.minutes(1)))
    func flags() async throws {
        let setup = try await Self.setUp(requireClientCertificate: true)
        defer { setup.broker.stop() }
        let (confirmed, output) = try await Self.subscribes(setup, arguments: [
            "--mqtt", "mqtts://gateway@127.0.0.1:\(setup.broker.port)",
            "--mqtt-tls-ca", setup.certificates.caCertificate,
            "--mqtt-tls-cert", setup.certificates.clientCertificate, "--mqtt-tls-key", setup.certificates.clientKey,
            "--mqtt-password-file", "\(setup.directory)/mqtt-password",
        ])
        #expect(confirmed, "\(output.suffix(2000))")
    }

    @Test("the same from environment variables, and from the configuration file", .timeLimit(.minutes(1)))
    func environmentAndFile() async throws {
        let setup = try await Self.setUp(requireClientCertificate: true)
        defer { setup.broker.stop() }
        let (fromEnvironment, output) = try await Self.subscribes(setup, arguments: [], environment: [
            "KAPPA_MQTT": "mqtts://127.0.0.1:\(setup.broker.port)", "KAPPA_MQTT_USERNAME": "gateway",
            "KAPPA_MQTT_PASSWORD": "s3cret pass", "KAPPA_MQTT_TLS_CA": setup.certificates.caCertificate,
            "KAPPA_MQTT_TLS_CERT": setup.certificates.clientCertificate, "KAPPA_MQTT_TLS_KEY": setup.certificates.clientKey,
        ])
        #expect(fromEnvironment, "\(output.suffix(2000))")

        let file = "\(setup.directory)/kappa.yaml"
        try """
            mqtt:
              url: mqtts://gateway@127.0.0.1:\(setup.broker.port)
              password_file: \(setup.directory)/mqtt-password
              tls:
                ca_file: \(setup.certificates.caCertificate)
                cert_file: \(setup.certificates.clientCertificate)
                key_file: \(setup.certificates.clientKey)
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let (fromFile, fileOutput) = try await Self.subscribes(setup, arguments: ["--config", file])
        #expect(fromFile, "\(fileOutput.suffix(2000))")
    }

    @Test("refused: a CA that did not sign the broker's certificate, no client certificate, a wrong password", .timeLimit(.minutes(1)))
    func refusals() async throws {
        let setup = try await Self.setUp(requireClientCertificate: true)
        defer { setup.broker.stop() }
        let otherDirectory = try TemporaryDirectory.make(prefix: "kappa-tls-other")
        let other = try TestCertificates.make(in: otherDirectory)
        let base = ["--mqtt", "mqtts://gateway@127.0.0.1:\(setup.broker.port)", "--mqtt-password-file", "\(setup.directory)/mqtt-password"]
        let client = ["--mqtt-tls-cert", setup.certificates.clientCertificate, "--mqtt-tls-key", setup.certificates.clientKey]

        let (wrongCA, wrongCAOutput) = try await Self.subscribes(setup, arguments: base + client + ["--mqtt-tls-ca", other.caCertificate], timeout: .seconds(4))
        #expect(!wrongCA, "connected although the broker's certificate is not signed by the given CA:\n\(wrongCAOutput.suffix(1500))")
        #expect(wrongCAOutput.contains("TLS error"), "\(wrongCAOutput.suffix(1500))")

        let (noCertificate, _) = try await Self.subscribes(setup, arguments: base + ["--mqtt-tls-ca", setup.certificates.caCertificate], timeout: .seconds(4))
        #expect(!noCertificate, "connected without the client certificate the broker requires")

        try "wrong\n".write(toFile: "\(setup.directory)/wrong-password", atomically: true, encoding: .utf8)
        let (wrongPassword, _) = try await Self.subscribes(setup, arguments: [
            "--mqtt", "mqtts://gateway@127.0.0.1:\(setup.broker.port)", "--mqtt-password-file", "\(setup.directory)/wrong-password",
            "--mqtt-tls-ca", setup.certificates.caCertificate,
        ] + client, timeout: .seconds(4))
        #expect(!wrongPassword, "connected with a wrong password")

        // And the control: the right CA with the same broker does subscribe, so the refusals above are the CA's doing.
        let (right, rightOutput) = try await Self.subscribes(setup, arguments: base + client + ["--mqtt-tls-ca", setup.certificates.caCertificate])
        #expect(right, "\(rightOutput.suffix(2000))")
    }
}
