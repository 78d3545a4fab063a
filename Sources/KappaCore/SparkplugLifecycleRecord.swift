/// A Sparkplug B birth or death certificate as the bridge received it, with what it did to the devices'
/// status: the `sparkplug-lifecycle` stream's record (see ``KappaStreams``).
///
/// The raw message is what rebuilds the bridge's alias state after a restart (fed again to a
/// `SparkplugSession`); the status changes, decided at intake with `bdSeq` checked, are what the device
/// registry reads, so it needs no Sparkplug decoding of its own.
public struct SparkplugLifecycleEntry: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var receivedAt: Timestamp
    /// Kappa device ids the message brought online (a birth).
    public var online: [String]
    /// Kappa device ids the message took offline (an accepted death).
    public var offline: [String]

    public init(topic: String, payload: [UInt8], receivedAt: Timestamp, online: [String] = [], offline: [String] = []) {
        self.topic = topic
        self.payload = payload
        self.receivedAt = receivedAt
        self.online = online
        self.offline = offline
    }
}

/// The log's binary form of a ``SparkplugLifecycleEntry``.
///
/// Version 1, in order:
/// ```
/// u8      version = 1
/// i64 LE  receive time, nanoseconds since the epoch
/// varint  topic length, UTF-8 bytes
/// varint  payload length, raw bytes (the Sparkplug protobuf message, whole)
/// varint  count of devices brought online, then each as a length-prefixed UTF-8 string
/// varint  count of devices taken offline, then each the same
/// ```
public enum SparkplugLifecycleRecord {
    public static let version: UInt8 = 1

    public static func encode(_ entry: SparkplugLifecycleEntry) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + entry.topic.utf8.count + entry.payload.count)
        bytes.append(version)
        RecordWriter.appendFixed64(UInt64(bitPattern: entry.receivedAt.nanosecondsSinceEpoch), to: &bytes)
        RecordWriter.appendString(entry.topic, to: &bytes)
        RecordWriter.appendBytes(entry.payload, to: &bytes)
        for devices in [entry.online, entry.offline] {
            RecordWriter.appendVarint(UInt64(devices.count), to: &bytes)
            for device in devices { RecordWriter.appendString(device, to: &bytes) }
        }
        return bytes
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError) -> SparkplugLifecycleEntry {
        var reader = RecordReader(bytes)
        guard try reader.byte() == version else { throw RecordDecodingError(code: .unsupportedVersion, offset: 0) }
        let receivedAt = Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: try reader.fixed64()))
        let topic = try reader.string()
        let payload = try reader.byteArray()
        var lists: [[String]] = []
        for _ in 0..<2 {
            let countOffset = reader.offset
            let count = try reader.varint()
            // Each device takes at least one byte: a count beyond what is left is corrupt, not a reason to allocate.
            guard count <= UInt64(bytes.count - reader.offset) else { throw RecordDecodingError(code: .invalidValue, offset: countOffset) }
            var devices: [String] = []
            devices.reserveCapacity(Int(count))
            for _ in 0..<count { devices.append(try reader.string()) }
            lists.append(devices)
        }
        try reader.finish()
        return SparkplugLifecycleEntry(topic: topic, payload: payload, receivedAt: receivedAt, online: lists[0], offline: lists[1])
    }

    public static func decode(_ bytes: some Collection<UInt8>) throws(RecordDecodingError) -> SparkplugLifecycleEntry {
        let array = Array(bytes)
        return try array.withUnsafeBytes { raw in Result { () throws(RecordDecodingError) -> SparkplugLifecycleEntry in try decode(raw) } }.get()
    }
}
