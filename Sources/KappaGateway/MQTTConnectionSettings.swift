import KappaMQTT

extension MQTTConnectionSettings {
    /// The broker settings from ``SettingsLayers`` (flag, environment, file, default), resolved by KappaMQTT's
    /// rules; a failure names the setting and where its value came from. `kappa run` and `kappa-sim` both
    /// call it, so the same flags, variables and file keys reach the same broker.
    public static func resolve(_ layers: SettingsLayers) throws(SettingsError) -> MQTTConfiguration {
        let read = SettingReader(layers: layers)
        typealias Key = GatewaySettingsCatalog
        let password = layers.higher(Key.mqttPasswordFile, Key.mqttPassword).map { setting, value -> Password in
            setting == Key.mqttPassword ? .text(value.text) : .file(path: value.text)
        }
        let settings = MQTTConnectionSettings(
            url: try read.text(Key.mqttURL)!,
            username: try read.text(Key.mqttUsername),
            password: password,
            protocolVersion: try read.text(Key.mqttProtocol),
            keepAlive: try read.text(Key.mqttKeepalive),
            tlsCAFile: try read.path(Key.mqttTLSCA),
            tlsCertificateFile: try read.path(Key.mqttTLSCertificate),
            tlsKeyFile: try read.path(Key.mqttTLSKey)
        )
        do {
            return try settings.resolve()
        } catch {
            let setting = setting(for: error.field)
            throw SettingsError(setting, layers.value(setting)!, error.message)
        }
    }

    private static func setting(for field: Field) -> Setting {
        typealias Key = GatewaySettingsCatalog
        switch field {
        case .url: return Key.mqttURL
        case .username: return Key.mqttUsername
        case .password: return Key.mqttPassword
        case .passwordFile: return Key.mqttPasswordFile
        case .protocolVersion: return Key.mqttProtocol
        case .keepAlive: return Key.mqttKeepalive
        case .tlsCAFile: return Key.mqttTLSCA
        case .tlsCertificateFile: return Key.mqttTLSCertificate
        case .tlsKeyFile: return Key.mqttTLSKey
        }
    }
}
