/// A reading as a log record: the partition-key contract, written once for every writer of the readings
/// stream (the MQTT bridge, imports, dead-letter replays, evaluation runs).
///
/// - key: the device id's UTF-8 bytes. The log partitions by a stable hash of the key, so one device's
///   readings stay in one partition, in order: processors keep per-device state on that promise, and the
///   bridge finds a redelivered message's readings by their partitions.
/// - event time: the reading's own (the payload's, or the receive time), so the log seeks by event time.
/// - value: the ``ReadingRecord`` encoding, version 2 or 3 when the delivery it came in is known.
public struct ReadingLogEntry: Sendable {
    public var key: [UInt8]
    public var eventTime: Timestamp
    public var value: [UInt8]

    public init(_ reading: Reading, delivery: MessageDelivery? = nil) {
        self.init(reading, key: Self.key(ofDevice: reading.device), delivery: delivery)
    }

    /// For a writer that already holds the device's key (consecutive readings of one device share it).
    /// - Parameter key: `ReadingLogEntry.key(ofDevice: reading.device)`.
    public init(_ reading: Reading, key: [UInt8], delivery: MessageDelivery? = nil) {
        assert(key.elementsEqual(reading.device.utf8), "the log key of a reading is its device id")
        self.key = key
        self.eventTime = reading.time
        self.value = ReadingRecord.encode(reading, delivery: delivery)
    }

    /// The log key, and so the partition, of a device's readings.
    public static func key(ofDevice device: String) -> [UInt8] {
        Array(device.utf8)
    }
}
