/// Snapshot bytes the engine cannot restore from.
public struct AnomalySnapshotError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let badMagic = Code(name: "not an anomaly snapshot")
        public static let unsupportedVersion = Code(name: "unsupported snapshot version")
        public static let truncated = Code(name: "snapshot truncated")
        public static let corrupt = Code(name: "snapshot corrupt")
        public var description: String { name }
    }

    public var code: Code
    /// Byte offset where reading failed.
    public var offset: Int
    public var detail: String

    public init(code: Code, offset: Int, detail: String = "") {
        self.code = code
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "\(code) at byte \(offset)\(detail.isEmpty ? "" : ": \(detail)")" }
}
