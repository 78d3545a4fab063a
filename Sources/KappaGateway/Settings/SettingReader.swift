/// Typed reads of settings from ``SettingsLayers``: each failure names the setting and its origin.
struct SettingReader {
    let layers: SettingsLayers

    func text(_ setting: Setting) throws(SettingsError) -> String? {
        layers.value(setting)?.text
    }

    func list(_ setting: Setting) throws(SettingsError) -> [String]? {
        layers.value(setting)?.texts
    }

    /// Parses the effective value; `parse` says what is wrong, this adds which setting and from where.
    func parse<Value>(_ setting: Setting, _ parse: (String) throws(SettingsError) -> Value) throws(SettingsError) -> Value? {
        guard let value = layers.value(setting) else { return nil }
        do {
            return try parse(value.text)
        } catch {
            throw SettingsError(setting, value, error.description)
        }
    }

    func integer(_ setting: Setting, in range: ClosedRange<Int>) throws(SettingsError) -> Int? {
        try parse(setting) { text throws(SettingsError) in
            guard let number = Int(text.trimmed) else { throw SettingsError("must be a whole number, not '\(text)'") }
            guard range.contains(number) else {
                throw SettingsError("must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
            }
            return number
        }
    }

    func boolean(_ setting: Setting) throws(SettingsError) -> Bool? {
        try parse(setting) { text throws(SettingsError) in
            switch text.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw SettingsError("must be true or false, not '\(text)'")
            }
        }
    }

    /// A file name; empty counts as not given (so `KAPPA_MQTT_TLS_CA=` unsets a file's value).
    func path(_ setting: Setting) throws(SettingsError) -> String? {
        guard let text = try text(setting), !text.isEmpty else { return nil }
        return text
    }
}
