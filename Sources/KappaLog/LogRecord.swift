public import KappaCore

/// A record to append: the key routes it to a partition (a device id), the event time is when it happened.
public struct LogAppendRecord: Sendable {
    public var key: [UInt8]
    public var eventTime: Timestamp
    public var value: [UInt8]

    public init(key: [UInt8], eventTime: Timestamp, value: [UInt8]) {
        self.key = key
        self.eventTime = eventTime
        self.value = value
    }

    public init(key: String, eventTime: Timestamp, value: [UInt8]) {
        self.init(key: Array(key.utf8), eventTime: eventTime, value: value)
    }
}

/// Where an appended record landed.
public struct LogPosition: Hashable, Sendable, CustomStringConvertible {
    public var partition: Int
    public var offset: Int64

    public init(partition: Int, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(partition)@\(offset)" }
}

/// A record read back from the log.
///
/// `key` and `value` are slices of one buffer shared by the records of a read (one allocation per read, not
/// two per record); their indices are not zero-based, so iterate them or copy with `Array(record.value)`.
public struct LogRecord: Sendable {
    public var offset: Int64
    public var eventTime: Timestamp
    public var key: ArraySlice<UInt8>
    public var value: ArraySlice<UInt8>

    public init(offset: Int64, eventTime: Timestamp, key: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        self.offset = offset
        self.eventTime = eventTime
        self.key = key
        self.value = value
    }
}

/// Bounds of one read: at most `maxRecords` records and about `maxBytes` of stored batches.
///
/// A read returns at least one record when one is available, even if its batch alone exceeds `maxBytes`.
public struct LogReadLimits: Sendable {
    public var maxRecords: Int
    public var maxBytes: Int

    public init(maxRecords: Int = 10_000, maxBytes: Int = 1 << 20) {
        self.maxRecords = max(1, maxRecords)
        self.maxBytes = max(1, maxBytes)
    }
}

/// The records of one read and the offset to read next.
public struct LogReadResult: Sendable {
    public var records: [LogRecord]
    /// The offset after the last returned record (the `from` of the next read); equal to `from` when empty.
    public var nextOffset: Int64

    public init(records: [LogRecord], nextOffset: Int64) {
        self.records = records
        self.nextOffset = nextOffset
    }
}

/// The offsets a partition currently holds: `start ..< highWatermark`.
public struct LogOffsetRange: Hashable, Sendable {
    /// The first offset still stored (retention deletes whole segments from the front).
    public var start: Int64
    /// The offset the next appended record will get; records up to it are readable.
    public var highWatermark: Int64

    public init(start: Int64, highWatermark: Int64) {
        self.start = start
        self.highWatermark = highWatermark
    }

    public var count: Int64 { highWatermark - start }
}
