/// A simulator failure the command reports and exits non-zero on.
public struct SimulatorError: Error, CustomStringConvertible, Sendable {
    /// A struct rather than an enum so that new codes do not break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        public static let connectionFailed = Code("connectionFailed")
        public static let invalidOption = Code("invalidOption")
        public static let invalidCSV = Code("invalidCSV")
        public static let fileAccess = Code("fileAccess")

        public var description: String { name }
    }

    public var code: Code
    /// A sentence for the user; never contains passwords.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
