import KappaCore
import KappaLog

/// Everything in a stream, decoded, for tests to compare with what was published.
public enum LogContents {
    /// All records of all partitions, in partition then offset order.
    public static func records(of stream: any LogStream) throws -> [LogRecord] {
        var all: [LogRecord] = []
        for partition in 0..<stream.partitionCount {
            var offset = stream.offsets(partition: partition).start
            while true {
                let batch = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 10_000, maxBytes: 8 << 20))
                guard let last = batch.records.last else { break }
                all.append(contentsOf: batch.records)
                offset = last.offset + 1
            }
        }
        return all
    }

    public static func readings(of stream: any LogStream) throws -> [Reading] {
        try records(of: stream).map { try ReadingRecord.decode(Array($0.value)) }
    }

    public static func deadLetters(of stream: any LogStream) throws -> [DeadLetter] {
        try records(of: stream).map { try DeadLetterRecord.decode(Array($0.value)) }
    }

    /// The Sparkplug births and deaths of a `sparkplug-lifecycle` stream, in partition then offset order
    /// (log order per edge node).
    public static func sparkplugLifecycle(of stream: any LogStream) throws -> [SparkplugLifecycleEntry] {
        try records(of: stream).map { try SparkplugLifecycleRecord.decode($0.value) }
    }
}
