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
/// Version 2 is version 1 followed by the ``MessageDelivery`` the reading came in:
/// ```
/// varint  sequence
/// varint  packet identifier
/// u32 LE  fingerprint
/// ```
/// Version 3 is version 2 followed by the delivery's session (``DeliverySession``), written when it is known:
/// ```
/// u32 LE  session
/// ```
/// Every version stays readable; a delivery read from version 2 has session ``DeliverySession/unknown``.
/// Fixed-width fields first, so that a reader after only time and value (rollups) can stop early.
public enum ReadingRecord {
    public static let version: UInt8 = 1
    public static let versionWithDelivery: UInt8 = 2
    public static let versionWithSession: UInt8 = 3

    /// Appends the record to `bytes`; with a delivery, in version 2, or 3 when its session is known.
    public static func encode(_ reading: Reading, delivery: MessageDelivery? = nil, into bytes: inout [UInt8]) {
        bytes.reserveCapacity(bytes.count + 24 + reading.device.utf8.count + reading.metric.utf8.count + 2)
        bytes.append(delivery.map { $0.session == DeliverySession.unknown ? versionWithDelivery : versionWithSession } ?? version)
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
        if let delivery {
            RecordWriter.appendVarint(delivery.sequence, to: &bytes)
            RecordWriter.appendVarint(UInt64(delivery.packetID), to: &bytes)
            withUnsafeBytes(of: delivery.fingerprint.littleEndian) { bytes.append(contentsOf: $0) }
            if delivery.session != DeliverySession.unknown {
                withUnsafeBytes(of: delivery.session.littleEndian) { bytes.append(contentsOf: $0) }
            }
        }
    }

    public static func encode(_ reading: Reading, delivery: MessageDelivery? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(reading, delivery: delivery, into: &bytes)
        return bytes
    }

    /// Decodes one whole record; anything truncated, unknown or left over is an error.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> Reading {
        try decodeWithDelivery(bytes).reading
    }

    /// The event time and device of a record, read from its start only: for a reader that needs to know which
    /// devices a batch touches before it is decoded (the anomaly processor bringing idle devices back). Nil when
    /// that much does not decode; wherever ``decode(_:)`` succeeds, the same time and device as its reading's.
    public static func eventTimeAndDevice(_ bytes: UnsafeRawBufferPointer) -> (time: Timestamp, device: String)? {
        var reader = RecordReader(bytes)
        let start = Result { () throws(RecordDecodingError) -> (Timestamp, String)? in
            let recordVersion = try reader.byte()
            guard recordVersion == version || recordVersion == versionWithDelivery || recordVersion == versionWithSession else { return nil }
            _ = try reader.byte()
            let time = Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: try reader.fixed64()))
            _ = try reader.fixed64()
            return (time, try reader.string())
        }
        guard case .success(let decoded?) = start else { return nil }
        return (decoded.0, decoded.1)
    }

    /// The reading and, for versions 2 and 3, the delivery it came in.
    public static func decodeWithDelivery(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> (reading: Reading, delivery: MessageDelivery?) {
        var reader = RecordReader(bytes)
        let recordVersion = try reader.byte()
        guard recordVersion == version || recordVersion == versionWithDelivery || recordVersion == versionWithSession else {
            throw RecordDecodingError(code: .unsupportedVersion, offset: 0)
        }
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
        var delivery: MessageDelivery? = nil
        if recordVersion != version {
            let sequence = try reader.varint()
            let packetOffset = reader.offset
            guard let packetID = UInt16(exactly: try reader.varint()) else {
                throw RecordDecodingError(code: .invalidValue, offset: packetOffset)
            }
            let fingerprint = try reader.fixed32()
            var session = DeliverySession.unknown
            if recordVersion == versionWithSession {
                let sessionOffset = reader.offset
                session = try reader.fixed32()
                guard session != DeliverySession.unknown else { throw RecordDecodingError(code: .invalidValue, offset: sessionOffset) }
            }
            delivery = MessageDelivery(sequence: sequence, packetID: packetID, fingerprint: fingerprint, session: session)
        }
        try reader.finish()
        let reading = Reading(device: device, metric: metric, time: time, value: value, timeSource: timeSource, tags: tags)
        return (reading, delivery)
    }

    public static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> Reading {
        // `withUnsafeBytes` rethrows untyped errors; carry the typed one out in a Result.
        try bytes.withUnsafeBytes { raw in Result { () throws(RecordDecodingError) -> Reading in try decode(raw) } }.get()
    }
}
