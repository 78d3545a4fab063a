/// The log's binary form of a `DeadLetter`.
///
/// Version 2, in order:
/// ```
/// u8      version = 2
/// i64 LE  receive time, nanoseconds since the epoch
/// varint  reason code length, UTF-8 bytes (the stable `DeadLetterReason` code)
/// varint  topic length, UTF-8 bytes
/// varint  message length, UTF-8 bytes
/// varint  stored payload length, raw bytes (not necessarily UTF-8): the payload or its prefix
/// varint  size of the whole payload as received
/// varint  digest length (0, or 32 when the payload is truncated), SHA-256 of the whole payload
/// ```
/// Version 1 (still read) ended after the payload, which was always whole.
public enum DeadLetterRecord {
    public static let version: UInt8 = 2

    public static func encode(_ deadLetter: DeadLetter, into bytes: inout [UInt8]) {
        bytes.append(version)
        RecordWriter.appendFixed64(UInt64(bitPattern: deadLetter.receivedAt.nanosecondsSinceEpoch), to: &bytes)
        RecordWriter.appendString(deadLetter.reason.rawValue, to: &bytes)
        RecordWriter.appendString(deadLetter.topic, to: &bytes)
        RecordWriter.appendString(deadLetter.message, to: &bytes)
        RecordWriter.appendBytes(deadLetter.payload, to: &bytes)
        RecordWriter.appendVarint(UInt64(deadLetter.payloadSize), to: &bytes)
        RecordWriter.appendBytes(deadLetter.payloadSHA256, to: &bytes)
    }

    public static func encode(_ deadLetter: DeadLetter) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(deadLetter, into: &bytes)
        return bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> DeadLetter {
        var reader = RecordReader(bytes)
        let recordVersion = try reader.byte()
        guard recordVersion == 1 || recordVersion == version else { throw RecordDecodingError(code: .unsupportedVersion, offset: 0) }
        let receivedAt = Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: try reader.fixed64()))
        let reason = DeadLetterReason(rawValue: try reader.string())
        let topic = try reader.string()
        let message = try reader.string()
        let payload = try reader.byteArray()
        var payloadSize = payload.count
        var digest: [UInt8] = []
        if recordVersion >= 2 {
            let sizeOffset = reader.offset
            let size = try reader.varint()
            guard size >= UInt64(payload.count), size <= UInt64(Int.max) else { throw RecordDecodingError(code: .invalidValue, offset: sizeOffset) }
            payloadSize = Int(size)
            digest = try reader.byteArray()
        }
        try reader.finish()
        return DeadLetter(topic: topic, payload: payload, payloadSize: payloadSize, payloadSHA256: digest, receivedAt: receivedAt, reason: reason, message: message)
    }

    public static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> DeadLetter {
        // `withUnsafeBytes` rethrows untyped errors; carry the typed one out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(RecordDecodingError) -> DeadLetter in try decode(raw) } }.get()
    }
}
