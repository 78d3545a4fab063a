/// One setting of `kappa run`: the key it has in the configuration file, its flag, its environment variable
/// and its default. Every setting is reachable all three ways (passwords only through files and the
/// environment); `GatewaySettingsCatalog` lists them, and the docs are checked against that list.
public struct Setting: Sendable, Hashable, CustomStringConvertible {
    /// The key in the YAML file, dotted for nested mappings: `mqtt.tls.ca_file`.
    public let key: String
    /// The long flag of `kappa run`, with its dashes; nil for a secret, which is never given on the command line.
    public let flag: String?
    public let environment: String
    /// The default as written in the example file; nil when there is none.
    public let defaultValue: String?
    /// A list (`roles`, `topics`): repeated flags, comma-separated in the environment, a sequence in the file.
    public let isList: Bool
    /// Never printed, only whether it is set.
    public let isSecret: Bool
    public let summary: String

    public init(
        _ key: String, flag: String?, environment: String, default defaultValue: String? = nil,
        list: Bool = false, secret: Bool = false, _ summary: String
    ) {
        self.key = key
        self.flag = flag
        self.environment = environment
        self.defaultValue = defaultValue
        self.isList = list
        self.isSecret = secret
        self.summary = summary
    }

    public var description: String { key }
}
