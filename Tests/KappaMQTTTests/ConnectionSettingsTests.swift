import Foundation
import KappaMQTT
import Testing

@Suite("MQTT connection settings: one set of rules for kappa and kappa-sim")
struct ConnectionSettingsTests {
    @Test("URL, user, password file, protocol, keepalive and TLS files become one configuration")
    func everythingResolves() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kappa-mqtt-settings-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "s3cret\nignored second line\n".write(toFile: "\(directory)/password", atomically: true, encoding: .utf8)
        let settings = MQTTConnectionSettings(
            url: "mqtt://meter@broker.example:1884", password: .file(path: "\(directory)/password"), protocolVersion: "5",
            keepAlive: "45", tlsCAFile: "/ca.pem", tlsCertificateFile: "/client.pem", tlsKeyFile: "/client.key"
        )
        let mqtt = try settings.resolve()
        #expect(mqtt.host == "broker.example")
        #expect(mqtt.port == 1884)
        #expect(mqtt.username == "meter")
        #expect(mqtt.password == "s3cret")
        #expect(mqtt.protocolVersion == .v5)
        #expect(mqtt.keepAlive == .seconds(45))
        #expect(mqtt.tls == MQTTConfiguration.TLS(caFile: "/ca.pem", certificateFile: "/client.pem", keyFile: "/client.key"))
    }

    @Test("each problem names its field, and never shows the password", arguments: [
        (MQTTConnectionSettings(url: "mqtt://broker", password: .text("hunter2")), MQTTConnectionSettings.Field.password, "needs a user name"),
        (MQTTConnectionSettings(url: "mqtt://u@broker", password: .file(path: "/nonexistent/kappa-password")), .passwordFile, "cannot read the password file"),
        (MQTTConnectionSettings(url: "mqtt://u:hunter2@broker"), .url, "carries a password"),
        (MQTTConnectionSettings(url: "mqtt://broker", protocolVersion: "4"), .protocolVersion, "use 3.1.1 or 5"),
        (MQTTConnectionSettings(url: "mqtt://broker", keepAlive: "2"), .keepAlive, "between 5 and 65535"),
        (MQTTConnectionSettings(url: "mqtt://broker", tlsKeyFile: "/k.pem"), .tlsKeyFile, "needs both"),
    ])
    func problemsNameTheirField(settings: MQTTConnectionSettings, field: MQTTConnectionSettings.Field, text: String) {
        #expect {
            _ = try settings.resolve()
        } throws: { error in
            guard let error = error as? MQTTSettingsError else { return false }
            return error.field == field && error.message.contains(text) && !error.description.contains("hunter2")
        }
    }
}
