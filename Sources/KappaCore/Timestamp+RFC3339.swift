extension Timestamp {
    /// Parses an RFC 3339 time such as `2024-05-01T12:00:00Z` or `2024-05-01T14:00:00.5+02:00`; nil otherwise.
    public init?(rfc3339 text: String) {
        var text = text
        let parsed = text.withUTF8 { bytes in
            RFC3339.timestamp(UnsafeRawBufferPointer(bytes), from: 0, to: bytes.count)
        }
        guard let parsed else { return nil }
        self = parsed
    }
}
