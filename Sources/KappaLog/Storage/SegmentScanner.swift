/// Reads a segment file batch by batch, checking every checksum: recovery, index rebuilds and `verify` use it.
enum SegmentScanner {
    /// Where a scan stopped.
    enum Stop: Equatable {
        /// All bytes up to the end of the file are valid batches.
        case endOfFile
        /// The batch at `position` is cut short by the end of the file.
        case torn(position: Int64)
        case corrupt(position: Int64, reason: String)
    }

    struct Outcome {
        var index: SegmentIndex
        var stop: Stop
        var fileSize: Int64
    }

    private static let chunkSize = 4 << 20

    /// Scans `file` from the end of `index` (its valid prefix) to the end of the file, extending `index`.
    static func scan(
        _ file: LogFile,
        continuing index: SegmentIndex,
        intervalBytes: Int,
        maxBatchBytes: Int
    ) throws(LogError) -> Outcome {
        var index = index
        let fileSize = try file.size()
        var bufferStart = index.size
        var buffer = try file.read(count: Int(min(Int64(chunkSize), fileSize - bufferStart)), at: bufferStart)
        var cursor = 0
        while true {
            let position = bufferStart + Int64(cursor)
            if position >= fileSize { return Outcome(index: index, stop: .endOfFile, fileSize: fileSize) }
            let parse = buffer.withUnsafeBytes {
                RecordBatch.parse($0, at: cursor, expectedBaseOffset: index.nextOffset, maxBatchBytes: maxBatchBytes)
            }
            switch parse {
            case .valid(let header):
                index.batchAppended(header, at: position, intervalBytes: intervalBytes)
                cursor += header.length
            case .incomplete(let needed):
                if position + Int64(needed) > fileSize {
                    return Outcome(index: index, stop: .torn(position: position), fileSize: fileSize)
                }
                bufferStart = position
                cursor = 0
                buffer = try file.read(count: Int(min(Int64(max(chunkSize, needed)), fileSize - position)), at: position)
            case .corrupt(let reason):
                return Outcome(index: index, stop: .corrupt(position: position, reason: reason), fileSize: fileSize)
            }
        }
    }

    /// The position of the first valid batch after `position`, if any: tells a torn or corrupt tail (nothing
    /// valid follows, safe to truncate) from corruption in the middle (valid data follows, never dropped silently).
    static func firstValidBatch(in file: LogFile, after position: Int64, maxBatchBytes: Int) throws(LogError) -> Int64? {
        let fileSize = try file.size()
        guard fileSize > position + 1 else { return nil }
        let tail = try file.read(count: Int(fileSize - position - 1), at: position + 1)
        return tail.withUnsafeBytes { raw -> Int64? in
            var candidate = 0
            while candidate + RecordBatch.headerSize <= raw.count {
                // Cheap filters first: version byte and a length that fits; the checksum decides.
                if raw[candidate + 16] == RecordBatch.formatVersion {
                    let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: candidate, as: UInt32.self)))
                    if length >= RecordBatch.headerSize, candidate + length <= raw.count,
                       case .valid = RecordBatch.parse(raw, at: candidate, expectedBaseOffset: nil, maxBatchBytes: maxBatchBytes)
                    {
                        return position + 1 + Int64(candidate)
                    }
                }
                candidate += 1
            }
            return nil
        }
    }
}
