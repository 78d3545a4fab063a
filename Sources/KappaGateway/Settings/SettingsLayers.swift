/// The places a setting can come from, in order of precedence: flags, then environment variables, then the
/// configuration file, then the default. Resolution is per setting, so a file that sets `database.schema`
/// never beats `KAPPA_SCHEMA`, nor a file's password file `KAPPA_MQTT_PASSWORD`.
public struct SettingsLayers: Sendable {
    /// Flag values by setting key; a list setting's repeated flag gives several texts.
    public var flags: [String: [String]]
    public var environment: [String: String]
    public var file: ConfigurationFile?
    /// Flags a command spells its own way (kappa-sim's `--password-file`), by setting key, for messages.
    public var flagNames: [String: String] = [:]

    public init(flags: [Setting: [String]] = [:], environment: [String: String] = [:], file: ConfigurationFile? = nil) {
        self.flags = Dictionary(uniqueKeysWithValues: flags.map { ($0.key.key, $0.value) })
        self.environment = environment
        self.file = file
    }

    /// Reads the configuration file named by `--config` or `$KAPPA_CONFIG`, if any, and stacks the layers.
    public static func load(flags: [Setting: [String]], environment: [String: String]) throws(SettingsError) -> SettingsLayers {
        var layers = SettingsLayers(flags: flags, environment: environment)
        if let path = layers.value(GatewaySettingsCatalog.config)?.text {
            layers.file = try ConfigurationFile.load(path: path)
        }
        return layers
    }

    /// The value from the highest layer that sets `setting`, else its default, else nil.
    public func value(_ setting: Setting) -> SettingValue? {
        if let texts = flags[setting.key], !texts.isEmpty, let flag = setting.flag {
            return SettingValue(texts, origin: .flag(flagNames[setting.key] ?? flag))
        }
        if let text = environment[setting.environment] {
            let texts = setting.isList ? text.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty } : [text]
            return SettingValue(texts, origin: .environment(setting.environment))
        }
        if let fromFile = file?.values[setting.key] {
            return fromFile
        }
        if let defaultValue = setting.defaultValue {
            return SettingValue(setting.isList ? defaultValue.split(separator: ",").map(String.init) : [defaultValue], origin: .defaultValue)
        }
        return nil
    }

    /// Whichever of two settings for the same thing is given in the higher layer (a password in
    /// `$KAPPA_MQTT_PASSWORD` or in a file named by `--mqtt-password-file`): `first` on a tie.
    public func higher(_ first: Setting, _ second: Setting) -> (Setting, SettingValue)? {
        let a = value(first).map { (first, $0) }
        let b = value(second).map { (second, $0) }
        guard let a else { return b }
        guard let b else { return a }
        return Self.rank(b.1.origin) < Self.rank(a.1.origin) ? b : a
    }

    private static func rank(_ origin: SettingOrigin) -> Int {
        switch origin {
        case .flag: 0
        case .environment: 1
        case .file: 2
        case .defaultValue: 3
        }
    }
}

extension String {
    var trimmed: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }
}
