/// Little-endian writing of the fixed-width values and strings snapshots are made of.
struct SnapshotWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func write(_ value: Double) { write(value.bitPattern) }

    mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }

    /// Room for `count` more bytes at once: a fleet's snapshot is hundreds of megabytes, and growing by doubling
    /// copies it over and over and may leave twice its size allocated.
    mutating func reserve(_ count: Int) {
        bytes.reserveCapacity(bytes.count + count)
    }

    mutating func write(_ value: String) {
        // (The view, not an array of it: one allocation per series' metric name was most of a snapshot's cost.)
        write(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }
}

/// Reads what `SnapshotWriter` wrote, throwing at the offset where the bytes run out or make no sense.
struct SnapshotReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(AnomalySnapshotError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { throw AnomalySnapshotError(code: .truncated, offset: offset) }
        var value = T.zero
        for k in 0..<size { value |= T(truncatingIfNeeded: bytes[offset + k]) << (8 * k) }
        offset += size
        return value
    }

    mutating func read(_: Double.Type = Double.self) throws(AnomalySnapshotError) -> Double {
        Double(bitPattern: try read(UInt64.self))
    }

    mutating func read(_: Bool.Type = Bool.self) throws(AnomalySnapshotError) -> Bool {
        switch try read(UInt8.self) {
        case 0: return false
        case 1: return true
        default: throw corrupt(at: offset - 1)
        }
    }

    mutating func read(_: String.Type = String.self) throws(AnomalySnapshotError) -> String {
        let count = Int(try read(UInt32.self))
        guard bytes.count - offset >= count else { throw AnomalySnapshotError(code: .truncated, offset: offset) }
        let text = String(decoding: bytes[offset..<offset + count], as: UTF8.self)
        offset += count
        return text
    }

    /// A count of items that follow, checked against the bytes left so a corrupt count cannot allocate wildly.
    mutating func readCount(minimumItemSize: Int) throws(AnomalySnapshotError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count * max(1, minimumItemSize) <= bytes.count - offset else { throw corrupt(at: offset - 4) }
        return count
    }

    func corrupt(at offset: Int? = nil) -> AnomalySnapshotError {
        AnomalySnapshotError(code: .corrupt, offset: offset ?? self.offset)
    }
}
