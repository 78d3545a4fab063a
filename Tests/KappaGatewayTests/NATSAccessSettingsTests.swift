import Foundation
import KappaGateway
import KappaTestSupport
import Testing

/// `log.nats.*`: the credentials, TLS files and start-up wait of a nats:// log, like every other setting.
@Suite("NATS access settings")
struct NATSAccessSettingsTests {
    static func resolve(flags: [Setting: [String]] = [:], environment: [String: String] = [:]) throws(SettingsError) -> GatewaySettings {
        try GatewaySettings.resolve(SettingsLayers(flags: flags, environment: environment))
    }

    @Test("user with a password file (first line) or the password variable, token from a file, creds and TLS files, the start-up wait")
    func credentials() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-nats-access")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "from-file\nignored\n".write(toFile: "\(directory)/password", atomically: true, encoding: .utf8)
        try "token-from-file\n".write(toFile: "\(directory)/token", atomically: true, encoding: .utf8)
        typealias Key = GatewaySettingsCatalog

        let byFile = try Self.resolve(
            flags: [Key.natsUser: ["kappa"], Key.natsPasswordFile: ["\(directory)/password"], Key.natsStartupWait: ["5"]],
            environment: ["KAPPA_NATS_PASSWORD": "from-environment", "KAPPA_NATS_TLS_CA": "/etc/ca.pem"]
        ).natsAccess
        #expect(byFile.user == "kappa")
        #expect(byFile.password == "from-file", "the flag's file beats the variable")
        #expect(byFile.startupWait == .seconds(5))
        #expect(byFile.tlsCAFile == "/etc/ca.pem")

        let byEnvironment = try Self.resolve(environment: ["KAPPA_NATS_USER": "kappa", "KAPPA_NATS_PASSWORD": "from-environment"]).natsAccess
        #expect(byEnvironment.password == "from-environment")
        #expect(byEnvironment.startupWait == .seconds(60), "the default wait")

        let token = try Self.resolve(environment: ["KAPPA_NATS_TOKEN_FILE": "\(directory)/token", "KAPPA_NATS_CREDS": "/etc/kappa.creds"]).natsAccess
        #expect(token.token == "token-from-file" && token.credentialsFile == "/etc/kappa.creds")
        #expect(try Self.resolve().natsAccess == NATSAccess(), "nothing set: no credentials")
    }

    @Test("refused: a password without a user, a certificate without its key, an unreadable password file, a bad wait", arguments: [
        ([:], ["KAPPA_NATS_PASSWORD": "x"], "log.nats.password (environment variable KAPPA_NATS_PASSWORD): a NATS password needs log.nats.user"),
        ([GatewaySettingsCatalog.natsTLSCertificate: ["/c.pem"]], [:], "log.nats.tls.cert_file (flag --nats-tls-cert): a NATS client certificate needs both"),
        ([GatewaySettingsCatalog.natsUser: ["u"], GatewaySettingsCatalog.natsPasswordFile: ["/nonexistent/kappa-password"]], [:], "log.nats.password_file (flag --nats-password-file): cannot read the password file"),
        ([GatewaySettingsCatalog.natsStartupWait: ["soon"]], [:], "log.nats.startup_wait_seconds (flag --nats-startup-wait): must be a whole number"),
    ] as [([Setting: [String]], [String: String], String)])
    func refused(flags: [Setting: [String]], environment: [String: String], message: String) throws {
        do {
            _ = try Self.resolve(flags: flags, environment: environment)
            Issue.record("accepted: \(flags) \(environment)")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }
}
