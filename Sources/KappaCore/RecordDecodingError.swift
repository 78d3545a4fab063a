/// Why bytes from the log could not be decoded as a record.
public struct RecordDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The record ended before a field did.
        public static let truncated = Code(rawValue: "truncated")
        /// The first byte names a format version this build does not know.
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        /// A varint ran past 10 bytes or 64 bits.
        public static let invalidVarint = Code(rawValue: "invalid_varint")
        /// A string field was not UTF-8.
        public static let invalidUTF8 = Code(rawValue: "invalid_utf8")
        /// A field held a value outside its range (such as an unknown time source).
        public static let invalidValue = Code(rawValue: "invalid_value")
        /// Bytes were left over after the last field.
        public static let trailingBytes = Code(rawValue: "trailing_bytes")
    }

    public var code: Code
    /// Byte offset in the record where decoding stopped.
    public var offset: Int

    public init(code: Code, offset: Int) {
        self.code = code
        self.offset = offset
    }

    public var description: String { "record decoding failed: \(code.rawValue) at byte \(offset)" }
}
