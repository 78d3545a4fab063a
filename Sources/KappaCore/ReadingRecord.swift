/// The log's binary form of a `Reading`.
///
/// Version 1, in order:
/// ```
/// u8      version = 1
/// u8      time source (0 device, 1 received)
/// i64 LE  event time, nanoseconds since the epoch
/// u64 LE  value, IEEE 754 bits
/// varint  device length, UTF-8 bytes
/// varint  metric length, UTF-8 bytes
/// varint  tag count, then per tag: key (varint length, bytes), value (varint length, bytes)
/// ```
/// Fixed-width fields first, so that a reader after only time and value (rollups) can stop early.
public enum ReadingRecord {
    public static let version: UInt8 = 1

    /// Appends the record to `bytes`.
    public static func encode(_ reading: Reading, into bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 24 + reading.device.utf8.count + reading.metric.utf8.count + 2)
        bytes.append(version)
        bytes.append(reading.timeSource.rawValue)
        RecordWriter.appendFixed64(UInt64(bitPattern: reading.time.nanosecondsSinceEpoch), to: &bytes)
        RecordWriter.appendFixed64(reading.value.bitPattern, to: &bytes)
        RecordWriter.appendString(reading.device, to: &bytes)
        RecordWriter.appendString(reading.metric, to: &bytes)
        RecordWriter.appendVarint(UInt64(reading.tags.count), to: &bytes)
        for tag in reading.tags {
            RecordWriter.appendString(tag.key, to: &bytes)
            RecordWriter.appendString(tag.value, to: &bytes)
        }
    }

    public static func encode(_ reading: Reading) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(reading, into: &bytes)
        return bytes
    }

    /// Decodes one whole record; anything truncated, unknown or left over is an error.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> Reading {
        var reader = RecordReader(bytes)
        let recordVersion = try reader.byte()
        guard recordVersion == version else { throw RecordDecodingError(code: .unsupportedVersion, offset: 0) }
        let sourceOffset = reader.offset
        guard let timeSource = TimeSource(rawValue: try reader.byte()) else {
            throw RecordDecodingError(code: .invalidValue, offset: sourceOffset)
        }
        let time = Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: try reader.fixed64()))
        let value = Double(bitPattern: try reader.fixed64())
        let device = try reader.string()
        let metric = try reader.string()
        let tagCountOffset = reader.offset
        let tagCount = try reader.varint()
        // Each tag takes at least two bytes; a larger count is garbage, not a reason to allocate.
        guard tagCount <= UInt64(reader.remaining / 2) else {
            throw RecordDecodingError(code: .truncated, offset: tagCountOffset)
        }
        var tags: [Tag] = []
        if tagCount > 0 {
            tags.reserveCapacity(Int(tagCount))
            for _ in 0..<tagCount {
                let key = try reader.string()
                tags.append(Tag(key: key, value: try reader.string()))
            }
        }
        try reader.finish()
        return Reading(device: device, metric: metric, time: time, value: value, timeSource: timeSource, tags: tags)
    }

    public static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> Reading {
        // `withUnsafeBytes` rethrows untyped errors; carry the typed one out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(RecordDecodingError) -> Reading in try decode(raw) } }.get()
    }
}
