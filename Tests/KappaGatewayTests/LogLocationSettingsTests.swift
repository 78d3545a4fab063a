import KappaGateway
import Testing

/// `log.url` / `--log` / `KAPPA_LOG` and `log.replicas`: which log `kappa run` opens.
@Suite("log location settings")
struct LogLocationSettingsTests {
    static func resolve(flags: [Setting: [String]] = [:], environment: [String: String] = [:]) throws(SettingsError) -> GatewaySettings {
        try GatewaySettings.resolve(SettingsLayers(flags: flags, environment: environment))
    }

    @Test("unset or empty: the embedded log in the data directory")
    func embeddedByDefault() throws {
        #expect(try Self.resolve().logLocation == .embedded)
        #expect(try Self.resolve(environment: ["KAPPA_LOG": ""]).logLocation == .embedded)
    }

    @Test("nats:// with several servers, each may repeat the scheme; replicas default 3, the flag beats the environment")
    func jetStream() throws {
        let settings = try Self.resolve(environment: ["KAPPA_LOG": "nats://h1:4222, nats://h2:4223,h3:4224"])
        #expect(settings.logLocation == .jetStream(servers: ["nats://h1:4222", "nats://h2:4223", "nats://h3:4224"], replicas: 3))
        let one = try Self.resolve(flags: [GatewaySettingsCatalog.logURL: ["nats://127.0.0.1:4222"], GatewaySettingsCatalog.logReplicas: ["1"]],
                                   environment: ["KAPPA_LOG": "nats://elsewhere:4222", "KAPPA_LOG_REPLICAS": "5"])
        #expect(one.logLocation == .jetStream(servers: ["nats://127.0.0.1:4222"], replicas: 1))
    }

    @Test("a bad URL or replica count is an error naming the setting and where it came from", arguments: [
        ("mqtt://h1:4222", "3", "log.url (flag --log): must be nats://host:port"),
        ("nats://h1", "3", "log.url (flag --log): 'h1' is not host:port"),
        ("nats://h1:4222,", "3", "log.url (flag --log): '' is not host:port"),
        ("nats://h1:99999", "3", "log.url (flag --log): 'h1:99999' is not host:port"),
        ("nats://user:secret@h1:4222", "3", "log.url (flag --log): must not hold credentials"),
        ("nats://h1:4222", "2", "log.replicas (flag --log-replicas): must be 1, 3 or 5, not '2'"),
    ])
    func refused(url: String, replicas: String, message: String) throws {
        do {
            _ = try Self.resolve(flags: [GatewaySettingsCatalog.logURL: [url], GatewaySettingsCatalog.logReplicas: [replicas]])
            Issue.record("\(url) with \(replicas) replicas was accepted")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }
}
