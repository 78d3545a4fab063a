/// The log's binary form of a `DeadLetter`.
///
/// Version 1, in order:
/// ```
/// u8      version = 1
/// i64 LE  receive time, nanoseconds since the epoch
/// varint  reason code length, UTF-8 bytes (the stable `DeadLetterReason` code)
/// varint  topic length, UTF-8 bytes
/// varint  message length, UTF-8 bytes
/// varint  payload length, raw bytes (not necessarily UTF-8)
/// ```
public enum DeadLetterRecord {
    public static let version: UInt8 = 1

    public static func encode(_ deadLetter: DeadLetter, into bytes: inout [UInt8]) {
        bytes.append(version)
        RecordWriter.appendFixed64(UInt64(bitPattern: deadLetter.receivedAt.nanosecondsSinceEpoch), to: &bytes)
        RecordWriter.appendString(deadLetter.reason.rawValue, to: &bytes)
        RecordWriter.appendString(deadLetter.topic, to: &bytes)
        RecordWriter.appendString(deadLetter.message, to: &bytes)
        RecordWriter.appendBytes(deadLetter.payload, to: &bytes)
    }

    public static func encode(_ deadLetter: DeadLetter) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(deadLetter, into: &bytes)
        return bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> DeadLetter {
        var reader = RecordReader(bytes)
        guard try reader.byte() == version else { throw RecordDecodingError(code: .unsupportedVersion, offset: 0) }
        let receivedAt = Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: try reader.fixed64()))
        let reason = DeadLetterReason(rawValue: try reader.string())
        let topic = try reader.string()
        let message = try reader.string()
        let payload = try reader.byteArray()
        try reader.finish()
        return DeadLetter(topic: topic, payload: payload, receivedAt: receivedAt, reason: reason, message: message)
    }

    public static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> DeadLetter {
        // `withUnsafeBytes` rethrows untyped errors; carry the typed one out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(RecordDecodingError) -> DeadLetter in try decode(raw) } }.get()
    }
}
