/// One row of `versions`: an output version of a processor and where it stands.
public struct OutputVersion: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Being built by a replay, not yet at the head of the log.
        case replaying
        /// Its replay reached the head of the log; ready to activate.
        case caughtUp = "caught_up"
        /// The version the user-facing views read.
        case active
        /// Was active once; its tables stay until dropped.
        case retired
    }

    public var processor: String
    public var version: String
    public var state: State
    public var isActive: Bool
    /// The processor settings it was built with, as JSON.
    public var configuration: String
    public var createdAt: String
}

/// Why an output version operation was refused.
public struct OutputVersionError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        public static let unknownProcessor = Code("unknownProcessor")
        public static let invalidName = Code("invalidName")
        public static let notFound = Code("notFound")
        public static let noActiveVersion = Code("noActiveVersion")
        /// The version exists, built with other settings: pick a new name or drop it first.
        public static let configurationMismatch = Code("configurationMismatch")
        public static let dropActive = Code("dropActive")

        public var description: String { name }
    }

    public var code: Code
    public var processor: String
    public var version: String
    public var message: String

    public var description: String { "\(processor) version \(version): \(message)" }
}
