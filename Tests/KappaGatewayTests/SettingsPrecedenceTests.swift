import Foundation
import KappaGateway
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStream
import Testing

/// Flag beats environment beats file beats default, for every setting of the catalog.
@Suite("settings precedence")
struct SettingsPrecedenceTests {
    /// A value of the right shape for each setting, distinct per layer.
    static func sample(_ setting: Setting, layer: String) -> String {
        "\(layer)-\(setting.key)"
    }

    static let layered = GatewaySettingsCatalog.all.filter {
        $0 != GatewaySettingsCatalog.config && $0 != GatewaySettingsCatalog.anomaly && !$0.isSecret
    }

    static func file(_ settings: [Setting], layer: String = "file") throws -> ConfigurationFile {
        // Nested mappings for dotted keys, as an operator writes them.
        var tree: [String: Any] = [:]
        for setting in settings {
            let parts = setting.key.split(separator: ".").map(String.init)
            func insert(_ node: inout [String: Any], _ path: ArraySlice<String>) {
                if path.count == 1 {
                    node[path.first!] = sample(setting, layer: layer)
                } else {
                    var child = node[path.first!] as? [String: Any] ?? [:]
                    insert(&child, path.dropFirst())
                    node[path.first!] = child
                }
            }
            insert(&tree, parts[...])
        }
        func render(_ node: [String: Any], indent: String) -> String {
            node.keys.sorted().map { key in
                if let child = node[key] as? [String: Any] {
                    return "\(indent)\(key):\n" + render(child, indent: indent + "  ")
                }
                return "\(indent)\(key): \"\(node[key]!)\"\n"
            }.joined()
        }
        return try ConfigurationFile(text: render(tree, indent: ""), path: "test.yaml")
    }

    @Test("each setting: flag > environment > file > default", arguments: layered)
    func precedence(setting: Setting) throws {
        let flag = Self.sample(setting, layer: "flag")
        let variable = Self.sample(setting, layer: "env")
        let file = try Self.file([setting])
        var layers = SettingsLayers(
            flags: setting.flag == nil ? [:] : [setting: [flag]],
            environment: [setting.environment: variable],
            file: file
        )
        if setting.flag != nil {
            #expect(layers.value(setting)?.texts == [flag])
            #expect(layers.value(setting)?.origin == .flag(setting.flag!))
            layers.flags = [:]
        }
        #expect(layers.value(setting)?.texts == [variable])
        #expect(layers.value(setting)?.origin == .environment(setting.environment))
        layers.environment = [:]
        #expect(layers.value(setting)?.texts == [Self.sample(setting, layer: "file")])
        guard case .file(path: "test.yaml", let line)? = layers.value(setting)?.origin else {
            Issue.record("\(setting.key) did not come from the file: \(String(describing: layers.value(setting)))")
            return
        }
        #expect(line >= 1)
        layers.file = nil
        if let defaultValue = setting.defaultValue {
            #expect(layers.value(setting)?.texts.joined(separator: ",") == defaultValue)
            #expect(layers.value(setting)?.origin == .defaultValue)
        } else {
            #expect(layers.value(setting) == nil)
        }
    }

    @Test("the schema from KAPPA_SCHEMA beats the file's")
    func schemaEnvironmentBeatsFile() throws {
        let file = try ConfigurationFile(text: "database:\n  schema: from_file\n", path: "kappa.yaml")
        let settings = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_SCHEMA": "from_env"], file: file))
        #expect(settings.databaseSchema == "from_env")
        let fileOnly = try GatewaySettings.resolve(SettingsLayers(file: file))
        #expect(fileOnly.databaseSchema == "from_file")
    }

    @Test("KAPPA_MQTT_PASSWORD beats the file's password_file; --mqtt-password-file beats KAPPA_MQTT_PASSWORD")
    func passwordPrecedence() throws {
        let directory = NSTemporaryDirectory() + "kappa-settings-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "from-file\nignored second line\n".write(toFile: "\(directory)/file-password", atomically: true, encoding: .utf8)
        try "from-flag\n".write(toFile: "\(directory)/flag-password", atomically: true, encoding: .utf8)
        let file = try ConfigurationFile(text: "mqtt:\n  url: mqtt://kappa@broker:1883\n  password_file: \(directory)/file-password\n", path: "kappa.yaml")

        let fileOnly = try GatewaySettings.resolve(SettingsLayers(file: file))
        #expect(fileOnly.bridge.mqtt.password == "from-file")
        let environment = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_MQTT_PASSWORD": "from-env"], file: file))
        #expect(environment.bridge.mqtt.password == "from-env")
        let flag = try GatewaySettings.resolve(SettingsLayers(
            flags: [GatewaySettingsCatalog.mqttPasswordFile: ["\(directory)/flag-password"]],
            environment: ["KAPPA_MQTT_PASSWORD": "from-env"], file: file
        ))
        #expect(flag.bridge.mqtt.password == "from-flag")
    }

    @Test("typed settings follow the same order")
    func typedPrecedence() throws {
        let file = try ConfigurationFile(text: """
            mqtt:
              qos: 2
              client_id: file-client
            log:
              fsync: never
              partitions: 4
            roles: [bridge]
            http: 127.0.0.1:1
            """, path: "kappa.yaml")
        let settings = try GatewaySettings.resolve(SettingsLayers(
            flags: [GatewaySettingsCatalog.logPartitions: ["16"]],
            environment: ["KAPPA_MQTT_CLIENT_ID": "env-client", "KAPPA_ROLES": "rollups, devices"],
            file: file
        ))
        #expect(settings.bridge.qos == .exactlyOnce)
        #expect(settings.bridge.mqtt.clientID == "env-client")
        #expect(settings.log.fsync == .never)
        #expect(settings.readingPartitions == 16)
        #expect(settings.roles == [.rollups, .devices])
        #expect(settings.http == "127.0.0.1:1")
        let defaults = try GatewaySettings.resolve(SettingsLayers())
        #expect(defaults.bridge.qos == .atLeastOnce)
        #expect(defaults.readingPartitions == 8)
        #expect(defaults.roles.count == GatewaySettings.Role.allCases.count)
        #expect(defaults.databaseSchema == "kappa")
        #expect(defaults.database == nil)
    }

    @Test("rollup widths: a list in the file, comma-separated in the environment; the default is not 'given'")
    func rollupWidths() throws {
        let defaults = try GatewaySettings.resolve(SettingsLayers())
        #expect(defaults.processors.rollupWidths == [60, 3600, 86_400])
        #expect(!defaults.processors.rollupWidthsGiven, "left at its default, the gateway follows the active version")
        let file = try ConfigurationFile(text: "processors:\n  rollup_widths: [1m, 5m, 15m, 1h, 1d]\n", path: "kappa.yaml")
        let fromFile = try GatewaySettings.resolve(SettingsLayers(file: file))
        #expect(fromFile.processors.rollupWidths == [60, 300, 900, 3600, 86_400])
        #expect(fromFile.processors.rollupWidthsGiven)
        let fromEnvironment = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_ROLLUP_WIDTHS": "30s, 1m"], file: file))
        #expect(fromEnvironment.processors.rollupWidths == [30, 60])
        #expect(throws: SettingsError.self) {
            try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_ROLLUP_WIDTHS": "1m,60s"]))
        }
        do {
            _ = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_ROLLUP_WIDTHS": "1m,1x"]))
            Issue.record("1x is not a width")
        } catch {
            #expect(error.description.contains("KAPPA_ROLLUP_WIDTHS") && error.description.contains("'1x' is not a width"), "\(error)")
        }
    }
}
