import KappaMQTT

/// How to reach the broker (URL, user, password, protocol, keepalive, TLS), resolved from ``SettingsLayers``.
/// `kappa run` and `kappa-sim` both use it, so the same flags, variables and file keys reach the same broker.
public enum MQTTConnectionSettings {
    public static func resolve(_ layers: SettingsLayers) throws(SettingsError) -> MQTTConfiguration {
        let read = SettingReader(layers: layers)
        typealias Key = GatewaySettingsCatalog
        var mqtt = try read.parse(Key.mqttURL) { text throws(SettingsError) in
            do { return try MQTTConfiguration(url: text) } catch { throw SettingsError("\(error)") }
        }!
        if let username = try read.text(Key.mqttUsername) { mqtt.username = username }
        if let (setting, value) = layers.higher(Key.mqttPasswordFile, Key.mqttPassword) {
            mqtt.password = setting == Key.mqttPassword ? value.text : try Secrets.firstLine(of: value.text, setting, value)
            if mqtt.username == nil {
                throw SettingsError(setting, value, "a broker password needs a user name (mqtt://user@host or mqtt.username)")
            }
        }
        mqtt.protocolVersion = try read.parse(Key.mqttProtocol) { text throws(SettingsError) in
            switch text {
            case "3.1.1", "311", "3": return .v311
            case "5", "5.0": return .v5
            default: throw SettingsError("use 3.1.1 or 5, not '\(text)'")
            }
        }!
        mqtt.keepAlive = .seconds(try read.integer(Key.mqttKeepalive, in: 5...65_535)!)
        let caFile = try read.path(Key.mqttTLSCA)
        let certificate = try read.path(Key.mqttTLSCertificate)
        let key = try read.path(Key.mqttTLSKey)
        if caFile != nil || certificate != nil || key != nil || mqtt.tls != nil {
            if (certificate == nil) != (key == nil) {
                let given = certificate == nil ? Key.mqttTLSKey : Key.mqttTLSCertificate
                throw SettingsError(given, layers.value(given)!, "a client certificate needs both mqtt.tls.cert_file and mqtt.tls.key_file")
            }
            mqtt.tls = MQTTConfiguration.TLS(caFile: caFile, certificateFile: certificate, keyFile: key)
        }
        return mqtt
    }
}
