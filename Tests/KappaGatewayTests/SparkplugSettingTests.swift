import KappaGateway
import KappaMQTT
import Testing

@Suite("the sparkplug setting")
struct SparkplugSettingTests {
    @Test("off by default; on, the bridge also subscribes spBv1.0/# at QoS 1; flag beats environment beats file")
    func sparkplugSetting() throws {
        let defaults = try GatewaySettings.resolve(SettingsLayers())
        #expect(!defaults.bridge.sparkplug)
        #expect(!defaults.bridge.subscriptions.map(\.filter).contains("spBv1.0/#"))

        let file = try ConfigurationFile(text: "sparkplug: true\nmqtt:\n  qos: 2\n", path: "kappa.yaml")
        let fromFile = try GatewaySettings.resolve(SettingsLayers(file: file))
        #expect(fromFile.bridge.sparkplug)
        let sparkplugSubscription = try #require(fromFile.bridge.subscriptions.first { $0.filter == "spBv1.0/#" })
        #expect(sparkplugSubscription.qos == .atLeastOnce)
        #expect(fromFile.bridge.subscriptions.count == defaults.bridge.subscriptions.count + 1)

        let environment = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_SPARKPLUG": "false"], file: file))
        #expect(!environment.bridge.sparkplug)
        let flag = try GatewaySettings.resolve(SettingsLayers(
            flags: [GatewaySettingsCatalog.sparkplug: ["true"]], environment: ["KAPPA_SPARKPLUG": "false"], file: file
        ))
        #expect(flag.bridge.sparkplug)

        #expect(throws: SettingsError.self) {
            try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_SPARKPLUG": "maybe"]))
        }
    }

    @Test("a shared subscription leaves spBv1.0/# unshared: one session must see an edge node's births and data")
    func sparkplugIsNotShared() throws {
        let settings = try GatewaySettings.resolve(SettingsLayers(environment: ["KAPPA_SPARKPLUG": "on", "KAPPA_MQTT_SHARE_GROUP": "kappa"]))
        let filters = settings.bridge.subscriptions.map(\.filter)
        #expect(filters.contains("spBv1.0/#"))
        #expect(filters.filter { !$0.hasPrefix("$share/kappa/") } == ["spBv1.0/#"])
    }
}
