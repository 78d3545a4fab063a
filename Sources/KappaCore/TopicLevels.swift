/// A concrete topic split at its `/`s once, so that several templates can be tried against it.
@usableFromInline
struct TopicLevels {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    /// Byte offset where each level starts.
    @usableFromInline var starts: [Int]

    @usableFromInline
    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        var starts = [0]
        starts.reserveCapacity(8)
        for (offset, byte) in bytes.enumerated() where byte == UInt8(ascii: "/") {
            starts.append(offset + 1)
        }
        self.starts = starts
    }

    @usableFromInline var count: Int { starts.count }

    @usableFromInline
    subscript(level: Int) -> UnsafeRawBufferPointer {
        let end = level + 1 < starts.count ? starts[level + 1] - 1 : bytes.count
        return UnsafeRawBufferPointer(rebasing: bytes[starts[level]..<end])
    }

    /// The bytes from the start of `level` to the end of the topic.
    @usableFromInline
    func rest(from level: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[starts[level]...])
    }
}
