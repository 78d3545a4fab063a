import KappaCore
import KappaGateway
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStream
import Testing

/// A typo must not silently turn a setting off: unknown keys and bad values name the key and the line.
@Suite("configuration file")
struct ConfigurationFileTests {
    func error(_ text: String, flags: [Setting: [String]] = [:], environment: [String: String] = [:]) -> String? {
        do {
            let file = try ConfigurationFile(text: text, path: "/etc/kappa/kappa.yaml")
            _ = try GatewaySettings.resolve(SettingsLayers(flags: flags, environment: environment, file: file))
            return nil
        } catch {
            return error.description
        }
    }

    @Test("an unknown key is an error with the file and line, and a suggestion")
    func unknownKey() {
        let message = error("""
            mqtt:
              url: mqtt://broker:1883
              clientid: kappa-1
            """)
        #expect(message == "/etc/kappa/kappa.yaml, line 3: unknown key 'mqtt.clientid' (did you mean 'mqtt.client_id'?)")
        #expect(error("data_dir: /var/lib/kappa\nretention: 5\n")?.hasPrefix("/etc/kappa/kappa.yaml, line 2: unknown key 'retention'") == true)
        #expect(error("mqtt:\n  tls:\n    ca: /etc/ssl/ca.pem\n")?.hasPrefix("/etc/kappa/kappa.yaml, line 3: unknown key 'mqtt.tls.ca'") == true)
    }

    @Test("a bad value names the key and its line")
    func badValue() {
        #expect(error("mqtt:\n  qos: 0\n")?.hasPrefix("mqtt.qos (/etc/kappa/kappa.yaml, line 2): must be 1 or 2") == true)
        #expect(error("log:\n  fsync: sometimes\n") == "log.fsync (/etc/kappa/kappa.yaml, line 2): use interval, always or never, not 'sometimes'")
        #expect(error("roles: [bridge, rollup]\n")?.hasPrefix("roles (/etc/kappa/kappa.yaml, line 1): unknown role 'rollup'") == true)
        #expect(error("log:\n  partitions: many\n") == "log.partitions (/etc/kappa/kappa.yaml, line 2): must be a whole number, not 'many'")
        #expect(error("mqtt:\n  url: [a, b]\n") == "/etc/kappa/kappa.yaml, line 2: mqtt.url must be a single value")
        #expect(error("topics:\n  - { template: \"devices/{device}/x\", format: xml }\n")?.hasPrefix("topics (/etc/kappa/kappa.yaml, line 1): unknown payload format 'xml'") == true)
    }

    @Test("a bad value from a flag or variable names the flag or variable")
    func badValueFromFlagOrEnvironment() {
        #expect(error("", flags: [GatewaySettingsCatalog.mqttQoS: ["0"]])?.hasPrefix("mqtt.qos (flag --qos): must be 1 or 2") == true)
        #expect(error("", environment: ["KAPPA_SCHEMA": ""]) == "database.schema (environment variable KAPPA_SCHEMA): the schema name is unusable: it is empty")
        #expect(error("", environment: ["KAPPA_LOG_RETENTION_HOURS": "999999999999999999999"]) != nil)
    }

    @Test("a password in the file is refused; a password file is not")
    func passwordInFile() {
        #expect(error("mqtt:\n  password: hunter2\n")?.contains("does not belong in a file") == true)
    }

    @Test("a database URL with a password is refused from a flag or file, as libpq reads it")
    func databasePassword() {
        for conninfo in ["host=db password = x", "postgres://kappa@db/kappa?pass%77ord=x", "postgres://kappa:x@db/kappa", "host=db password='a b'"] {
            #expect(error("", flags: [GatewaySettingsCatalog.database: [conninfo]])?.contains("holds a password") == true, "\(conninfo)")
        }
        #expect(error("", flags: [GatewaySettingsCatalog.database: ["host=db user=kappa passwordless=1"]]) != nil)  // libpq: unknown keyword
        #expect(error("", flags: [GatewaySettingsCatalog.database: ["host=db user=kappa"]]) == nil)
        // The environment is where a full URL may live (systemd's EnvironmentFile, mode 0600).
        #expect(error("", environment: ["KAPPA_DATABASE": "postgres://kappa:x@db/kappa"]) == nil)
    }

    @Test("the anomaly section reaches the detectors, and bad keys in it are errors with lines")
    func anomalySection() throws {
        let file = try ConfigurationFile(text: """
            anomaly:
              defaults:
                spike_z: 7
              metrics:
                - pattern: "temp*"
                  settings: { max: 80 }
            """, path: "kappa.yaml")
        let settings = try GatewaySettings.resolve(SettingsLayers(file: file))
        let recorded = try #require(settings.anomaly)
        #expect(recorded.defaults == ["spike_z": 7])
        #expect(recorded.metrics == [.init(pattern: "temp*", settings: ["max": 80])])
        let effective = AnomalyConfigurationFile(settings.processors.anomalies)
        #expect(effective == AnomalyConfigurationFile(try recorded.configuration()))
        #expect(effective != AnomalyConfigurationFile(AnomalyConfiguration()))
        #expect(error("anomaly:\n  defaults:\n    spike_zz: 7\n")?.contains("spike_zz") == true)
        #expect(error("anomaly:\n  default:\n    spike_z: 7\n")?.contains("line 2: unknown key 'anomaly.default'") == true)
        #expect(error("anomaly:\n  defaults:\n    spike_z: high\n")?.contains("line 3: anomaly.defaults.spike_z must be a number") == true)
    }

    @Test("TLS and sslmode settings reach the client configurations")
    func tlsAndSSL() throws {
        let file = try ConfigurationFile(text: """
            mqtt:
              url: mqtts://broker.example
              tls: { ca_file: /etc/kappa/ca.pem, cert_file: /etc/kappa/client.pem, key_file: /etc/kappa/client.key }
            database:
              url: host=db.example dbname=kappa
              sslmode: verify-full
              sslrootcert: /etc/kappa/db-ca.pem
            """, path: "kappa.yaml")
        let settings = try GatewaySettings.resolve(SettingsLayers(file: file))
        #expect(settings.bridge.mqtt.tls?.caFile == "/etc/kappa/ca.pem")
        #expect(settings.bridge.mqtt.tls?.certificateFile == "/etc/kappa/client.pem")
        #expect(settings.bridge.mqtt.tls?.keyFile == "/etc/kappa/client.key")
        #expect(settings.bridge.mqtt.port == 8883)
        #expect(settings.database?.parameters == ["sslmode": "verify-full", "sslrootcert": "/etc/kappa/db-ca.pem"])
        #expect(error("mqtt:\n  tls: { cert_file: /c.pem }\n")?.contains("needs both") == true)
        #expect(error("database:\n  url: host=db\n  sslmode: strict\n")?.hasPrefix("database.sslmode (/etc/kappa/kappa.yaml, line 3)") == true)
    }
}

@Suite("topic routes from settings")
struct TopicRouteSettingsTests {
    func routes(_ topics: [String]) throws -> [TopicRoute] {
        try GatewaySettings.resolve(SettingsLayers(flags: [GatewaySettingsCatalog.topics: topics], environment: [:], file: nil)).bridge.routes
    }

    @Test func onlyATrustedAggregatorsLineProtocolRouteLetsTheTagNameTheDevice() throws {
        let routes = try routes(["gateways/{device}/lines=line_protocol+device_tag", "devices/{device}/lines=line_protocol"])
        #expect(routes.map(\.lineProtocolDeviceTag) == [true, false])
        #expect(routes.map(\.format) == [.lineProtocol, .lineProtocol])
        #expect(throws: (any Error).self) { try self.routes(["devices/{device}/telemetry=json+device_tag"]) }
    }
}
