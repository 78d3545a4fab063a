/// A configuration the anomaly engine cannot use, with the key and value that were wrong.
public struct AnomalyConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let unknownKey = Code(name: "unknown key")
        public static let invalidValue = Code(name: "invalid value")
        public var description: String { name }
    }

    public var code: Code
    public var key: String
    public var value: Double
    /// The metric pattern of the override the key was in, nil for the defaults.
    public var pattern: String?

    public init(code: Code, key: String, value: Double, pattern: String? = nil) {
        self.code = code
        self.key = key
        self.value = value
        self.pattern = pattern
    }

    public var description: String {
        "anomaly configuration\(pattern.map { " for metrics '\($0)'" } ?? ""): \(code) '\(key)' = \(value)"
    }
}
