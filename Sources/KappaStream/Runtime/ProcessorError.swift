/// A processor could not go on for a reason retrying does not fix.
public struct ProcessorError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The database says the processor consumed past the end of the log (another data directory?).
        public static let offsetsAheadOfLog = Code("offsetsAheadOfLog")
        /// Another instance of the same processor committed meanwhile.
        public static let concurrentInstance = Code("concurrentInstance")
        /// State saved with a checkpoint does not load (written by an incompatible version, or damaged).
        public static let corruptState = Code("corruptState")

        public var description: String { name }
    }

    public var code: Code
    public var processor: String
    public var message: String

    public init(code: Code, processor: String, message: String) {
        self.code = code
        self.processor = processor
        self.message = message
    }

    public var description: String { "processor \(processor): \(code): \(message)" }
}
