import KappaJetStream

/// How a nats:// log authenticates to NATS and secures its connection (`log.nats.*`), and how long a start
/// waits for the cluster. Passwords and tokens come from the environment or a file, never a flag.
public struct NATSAccess: Sendable, Equatable {
    public var user: String?
    public var password: String?
    public var token: String?
    public var credentialsFile: String?
    public var tlsCAFile: String?
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    public var startupWait: Duration = .seconds(60)

    public init() {}

    static func resolve(_ layers: SettingsLayers) throws(SettingsError) -> NATSAccess {
        typealias Key = GatewaySettingsCatalog
        let read = SettingReader(layers: layers)
        var access = NATSAccess()
        access.user = try read.path(Key.natsUser)
        access.password = try secret(layers, file: Key.natsPasswordFile, text: Key.natsPassword)
        access.token = try secret(layers, file: Key.natsTokenFile, text: Key.natsToken)
        if access.user == nil, let (setting, value) = layers.higher(Key.natsPasswordFile, Key.natsPassword) {
            throw SettingsError(setting, value, "a NATS password needs log.nats.user")
        }
        access.credentialsFile = try read.path(Key.natsCredentials)
        access.tlsCAFile = try read.path(Key.natsTLSCA)
        access.tlsCertificateFile = try read.path(Key.natsTLSCertificate)
        access.tlsKeyFile = try read.path(Key.natsTLSKey)
        if (access.tlsCertificateFile == nil) != (access.tlsKeyFile == nil) {
            let setting = access.tlsCertificateFile == nil ? Key.natsTLSKey : Key.natsTLSCertificate
            throw SettingsError(setting, layers.value(setting)!, "a NATS client certificate needs both log.nats.tls.cert_file and log.nats.tls.key_file")
        }
        access.startupWait = .seconds(try read.integer(Key.natsStartupWait, in: 0...3600)!)
        return access
    }

    /// The higher of a secret's file and its variable: the file's first line, or the variable's text.
    private static func secret(_ layers: SettingsLayers, file: Setting, text: Setting) throws(SettingsError) -> String? {
        guard let (setting, value) = layers.higher(file, text) else { return nil }
        if setting == text { return value.text }
        return try Secrets.firstLine(of: value.text, setting, value)
    }

    /// The connection settings of a JetStream log on `servers`.
    public func configuration(servers: [String], replicas: Int) -> JetStreamConfiguration {
        var configuration = JetStreamConfiguration(servers: servers, replicas: replicas)
        configuration.user = user
        configuration.password = password
        configuration.token = token
        configuration.credentialsFile = credentialsFile
        configuration.trustedCertificates = tlsCAFile
        configuration.certificateFile = tlsCertificateFile
        configuration.keyFile = tlsKeyFile
        return configuration
    }
}
