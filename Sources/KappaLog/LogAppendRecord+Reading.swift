import KappaCore

extension LogAppendRecord {
    /// The record of a reading in the readings stream (key, event time and value as ``ReadingLogEntry`` says).
    public init(_ entry: ReadingLogEntry) {
        self.init(key: entry.key, eventTime: entry.eventTime, value: entry.value)
    }

    public init(reading: Reading, delivery: MessageDelivery? = nil) {
        self.init(ReadingLogEntry(reading, delivery: delivery))
    }
}
