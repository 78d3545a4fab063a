import KappaCore

/// The on-disk record batch, little-endian:
///
/// ```
/// 0   length        UInt32  whole batch, header included
/// 4   crc32c        UInt32  CRC-32C of bytes [16, length)
/// 8   baseOffset    Int64   offset of the first record (checked densely on recovery, so outside the CRC:
///                           the writer assigns it under the partition lock after checksumming outside it)
/// 16  formatVersion UInt8
/// 17  attributes    UInt8   0 (reserved for compression)
/// 18  reserved      UInt16  0
/// 20  recordCount   UInt32
/// 24  minEventTime  Int64   ns since the epoch
/// 32  maxEventTime  Int64
/// 40  records:      varint(eventTime - minEventTime), varint(key length), varint(value length), key, value
/// ```
enum RecordBatch {
    static let formatVersion: UInt8 = 1
    static let headerSize = 40
    static let checksummedFrom = 16
    static let baseOffsetPosition = 8

    /// Encodes records into one batch with base offset 0; ``setBaseOffset(_:in:)`` fills it in at append time.
    static func encode(_ records: some Collection<LogAppendRecord>) -> [UInt8] {
        var minTime = Int64.max
        var maxTime = Int64.min
        var size = headerSize
        for record in records {
            let time = record.eventTime.nanosecondsSinceEpoch
            minTime = min(minTime, time)
            maxTime = max(maxTime, time)
            size += record.key.count + record.value.count + 12
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(size + 8)
        bytes.append(contentsOf: repeatElement(0, count: headerSize))
        for record in records {
            Varint.append(UInt64(bitPattern: record.eventTime.nanosecondsSinceEpoch &- minTime), to: &bytes)
            Varint.append(UInt64(record.key.count), to: &bytes)
            Varint.append(UInt64(record.value.count), to: &bytes)
            bytes.append(contentsOf: record.key)
            bytes.append(contentsOf: record.value)
        }
        bytes.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(of: UInt32(buffer.count).littleEndian, toByteOffset: 0, as: UInt32.self)
            buffer.storeBytes(of: formatVersion, toByteOffset: 16, as: UInt8.self)
            buffer.storeBytes(of: UInt32(records.count).littleEndian, toByteOffset: 20, as: UInt32.self)
            buffer.storeBytes(of: minTime.littleEndian, toByteOffset: 24, as: Int64.self)
            buffer.storeBytes(of: maxTime.littleEndian, toByteOffset: 32, as: Int64.self)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[checksummedFrom...]))
            buffer.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
        return bytes
    }

    static func setBaseOffset(_ offset: Int64, in bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(of: offset.littleEndian, toByteOffset: baseOffsetPosition, as: Int64.self)
        }
    }
}

/// The header fields of a batch that passed its checks.
struct RecordBatchHeader: Sendable, Equatable {
    var length: Int
    var baseOffset: Int64
    var recordCount: Int
    var minEventTime: Int64
    var maxEventTime: Int64

    var nextOffset: Int64 { baseOffset + Int64(recordCount) }
}

/// What is found at a position of a segment.
enum RecordBatchParse: Equatable {
    case valid(RecordBatchHeader)
    /// The bytes end before the batch does: a torn write if at the end of a file, else a short read.
    case incomplete(needed: Int)
    case corrupt(reason: String)
}

extension RecordBatch {
    /// Checks the batch at `start` of `bytes`: framing, version, checksum, record framing and count.
    ///
    /// `expectedBaseOffset`, when given, must match: offsets are dense, so a wrong one is corruption.
    ///
    /// `checkedBefore(length)` says whether this process already checked the bytes of a batch of that length at
    /// `start` (a reader before it read the same batch: see ``Partition``); then the checksum and the record
    /// framing pass are skipped, the header's other checks are not.
    static func parse(
        _ bytes: UnsafeRawBufferPointer,
        at start: Int,
        expectedBaseOffset: Int64?,
        maxBatchBytes: Int,
        checkedBefore: (_ length: Int) -> Bool = { _ in false }
    ) -> RecordBatchParse {
        let available = bytes.count - start
        guard available >= headerSize else { return .incomplete(needed: headerSize) }
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
        guard length >= headerSize, length <= maxBatchBytes else { return .corrupt(reason: "implausible batch length \(length)") }
        let version = bytes[start + 16]
        guard version == formatVersion else { return .corrupt(reason: "unknown format version \(version)") }
        guard available >= length else { return .incomplete(needed: length) }
        let checked = checkedBefore(length)
        if !checked {
            let storedCRC = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 4, as: UInt32.self))
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(start + checksummedFrom)..<(start + length)]))
            guard crc == storedCRC else { return .corrupt(reason: "checksum mismatch") }
        }
        let baseOffset = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 8, as: Int64.self))
        if let expectedBaseOffset, baseOffset != expectedBaseOffset {
            return .corrupt(reason: "base offset \(baseOffset) where \(expectedBaseOffset) was expected")
        }
        let count = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 20, as: UInt32.self)))
        let header = RecordBatchHeader(
            length: length,
            baseOffset: baseOffset,
            recordCount: count,
            minEventTime: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 24, as: Int64.self)),
            maxEventTime: Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + 32, as: Int64.self))
        )
        guard count > 0, header.minEventTime <= header.maxEventTime else { return .corrupt(reason: "invalid header fields") }
        if checked { return .valid(header) }
        // A correct checksum over wrong framing can only come from a writer bug; check it once here so readers
        // can decode without bounds surprises.
        var decoded = 0
        let framed = forEachRecord(bytes, batchAt: start, header: header) { _, _, _, _ in decoded += 1 }
        guard framed, decoded == count else { return .corrupt(reason: "record framing does not match record count") }
        return .valid(header)
    }

    /// Calls `body(index, eventTime, keyRange, valueRange)` for each record of a checked batch; ranges index `bytes`.
    /// Returns false if the framing is inconsistent.
    @inline(__always)
    @discardableResult
    static func forEachRecord(
        _ bytes: UnsafeRawBufferPointer,
        batchAt start: Int,
        header: RecordBatchHeader,
        _ body: (Int, Int64, Range<Int>, Range<Int>) -> Void
    ) -> Bool {
        var index = start + headerSize
        let end = start + header.length
        var recordIndex = 0
        while index < end {
            guard recordIndex < header.recordCount,
                  let delta = Varint.decode(bytes, at: &index, end: end),
                  let keyLength = Varint.decode(bytes, at: &index, end: end),
                  let valueLength = Varint.decode(bytes, at: &index, end: end),
                  keyLength <= UInt64(end - index), valueLength <= UInt64(end - index) - keyLength
            else { return false }
            let keyEnd = index + Int(keyLength)
            let valueEnd = keyEnd + Int(valueLength)
            body(recordIndex, header.minEventTime &+ Int64(bitPattern: delta), index..<keyEnd, keyEnd..<valueEnd)
            index = valueEnd
            recordIndex += 1
        }
        return true
    }
}
