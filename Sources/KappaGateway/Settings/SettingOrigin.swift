/// Where the effective value of a setting came from, for `kappa config show` and for error messages.
public enum SettingOrigin: Sendable, Equatable, CustomStringConvertible {
    case flag(String)
    case environment(String)
    case file(path: String, line: Int)
    case defaultValue

    public var description: String {
        switch self {
        case .flag(let name): name
        case .environment(let name): "$\(name)"
        case .file(let path, let line): "\(path):\(line)"
        case .defaultValue: "default"
        }
    }
}

/// A setting's value as given (text, or texts for a list) and where from.
public struct SettingValue: Sendable, Equatable {
    public var texts: [String]
    public var origin: SettingOrigin

    public init(_ texts: [String], origin: SettingOrigin) {
        self.texts = texts
        self.origin = origin
    }

    /// The single value of a scalar setting.
    public var text: String { texts.last ?? "" }
}

/// A setting that cannot be used, with the key and where its value came from.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }

    /// "mqtt.qos (from kappa.yaml:12): must be 1 or 2".
    public init(_ setting: Setting, _ value: SettingValue, _ problem: String) {
        self.description = "\(setting.key) (\(Self.origin(setting, value.origin))): \(problem)"
    }

    static func origin(_ setting: Setting, _ origin: SettingOrigin) -> String {
        switch origin {
        case .flag(let name): "flag \(name)"
        case .environment(let name): "environment variable \(name)"
        case .file(let path, let line): "\(path), line \(line)"
        case .defaultValue: "default"
        }
    }
}
