/// The sparse offset and time index of one segment, kept in memory and persisted when the segment closes.
///
/// One entry every `intervalBytes` of batches: the entry's batch base offset and file position (offset index),
/// and the largest event time of all records *before* that batch in the segment (time index). Records are in
/// append order, not event-time order, so the time index answers "the first record at or after T" through
/// that running maximum, which only grows: binary search finds the last entry before the answer.
struct SegmentIndex: Sendable, Equatable {
    let baseOffset: Int64
    /// The offset after the last record of the segment.
    private(set) var nextOffset: Int64
    /// Bytes of valid batches: the segment's file size when it is consistent.
    private(set) var size: Int64 = 0
    private(set) var minEventTime: Int64 = .max
    private(set) var maxEventTime: Int64 = .min
    private(set) var batchCount = 0
    private(set) var entryOffsets: [Int64] = []
    private(set) var entryPositions: [Int64] = []
    private(set) var entryMaxTimesBefore: [Int64] = []

    init(baseOffset: Int64) {
        self.baseOffset = baseOffset
        self.nextOffset = baseOffset
    }

    var isEmpty: Bool { size == 0 }
    var recordCount: Int64 { nextOffset - baseOffset }

    mutating func batchAppended(_ header: RecordBatchHeader, at position: Int64, intervalBytes: Int) {
        if entryPositions.isEmpty || position - entryPositions[entryPositions.count - 1] >= Int64(intervalBytes) {
            entryOffsets.append(header.baseOffset)
            entryPositions.append(position)
            entryMaxTimesBefore.append(maxEventTime)
        }
        nextOffset = header.nextOffset
        size = position + Int64(header.length)
        minEventTime = min(minEventTime, header.minEventTime)
        maxEventTime = max(maxEventTime, header.maxEventTime)
        batchCount += 1
    }

    /// The position of the indexed batch at or before the one holding `offset`; scanning from it finds `offset`.
    func position(forOffset offset: Int64) -> Int64 {
        let entries = entryCount(atOrBefore: offset)
        return entries == 0 ? 0 : entryPositions[entries - 1]
    }

    /// The position of the first indexed batch that starts after `offset`, or the segment's size: every record up
    /// to `offset` lies before it, so a read wanting no more need not go past it.
    func position(after offset: Int64) -> Int64 {
        let entries = entryCount(atOrBefore: offset)
        return entries < entryPositions.count ? entryPositions[entries] : size
    }

    /// How many entries index a batch whose base offset is at most `offset` (they come first: offsets ascend).
    private func entryCount(atOrBefore offset: Int64) -> Int {
        var low = 0
        var high = entryOffsets.count
        while low < high {
            let middle = (low + high) / 2
            if entryOffsets[middle] <= offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The position of the last indexed batch before which every record is earlier than `time`.
    func position(forTime time: Int64) -> Int64 {
        // First entry whose running maximum before it reaches `time`; the answer lies before it.
        var low = 0
        var high = entryMaxTimesBefore.count
        while low < high {
            let middle = (low + high) / 2
            if entryMaxTimesBefore[middle] < time { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : entryPositions[low - 1]
    }
}

extension SegmentIndex {
    private static let magic: UInt32 = 0x4B49_4458  // "KIDX"
    private static let version: UInt32 = 1

    /// The index file: magic, version, fields, entries, then a CRC-32C of all that precedes it.
    func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(72 + entryOffsets.count * 24)
        func put<Value: FixedWidthInteger>(_ value: Value) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        put(Self.magic)
        put(Self.version)
        put(baseOffset)
        put(nextOffset)
        put(size)
        put(minEventTime)
        put(maxEventTime)
        put(Int64(batchCount))
        put(Int64(entryOffsets.count))
        for index in entryOffsets.indices {
            put(entryOffsets[index])
            put(entryPositions[index])
            put(entryMaxTimesBefore[index])
        }
        put(CRC32C.checksum(bytes))
        return bytes
    }

    /// Parses an index file; nil when it is damaged or belongs to another segment (then it is rebuilt).
    static func deserialize(_ bytes: [UInt8], baseOffset: Int64) -> SegmentIndex? {
        bytes.withUnsafeBytes { raw -> SegmentIndex? in
            guard raw.count >= 68 else { return nil }
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: raw.count - 4, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 4)])) == stored else { return nil }
            var cursor = 0
            func take<Value: FixedWidthInteger>(_: Value.Type) -> Value {
                defer { cursor += MemoryLayout<Value>.size }
                return Value(littleEndian: raw.loadUnaligned(fromByteOffset: cursor, as: Value.self))
            }
            guard take(UInt32.self) == magic, take(UInt32.self) == version, take(Int64.self) == baseOffset else { return nil }
            var index = SegmentIndex(baseOffset: baseOffset)
            index.nextOffset = take(Int64.self)
            index.size = take(Int64.self)
            index.minEventTime = take(Int64.self)
            index.maxEventTime = take(Int64.self)
            index.batchCount = Int(take(Int64.self))
            let count = Int(take(Int64.self))
            guard count >= 0, raw.count == cursor + count * 24 + 4 else { return nil }
            index.entryOffsets.reserveCapacity(count)
            index.entryPositions.reserveCapacity(count)
            index.entryMaxTimesBefore.reserveCapacity(count)
            for _ in 0..<count {
                index.entryOffsets.append(take(Int64.self))
                index.entryPositions.append(take(Int64.self))
                index.entryMaxTimesBefore.append(take(Int64.self))
            }
            return index
        }
    }
}
