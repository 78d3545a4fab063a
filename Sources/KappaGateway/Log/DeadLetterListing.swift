import KappaCore
import KappaLog

/// The newest dead letters of each partition, for `kappa dead-letters list`.
public enum DeadLetterListing {
    public struct Entry: Sendable {
        public var partition: Int
        public var offset: Int64
        public var letter: DeadLetter
    }

    /// Up to `limit` of the newest dead letters of each partition, partition by partition, oldest first;
    /// records that do not decode are skipped. Nil when the log has no dead-letter stream.
    public static func newest(in log: some PartitionedLog, limit: Int) async throws -> [Entry]? {
        guard try log.streamNames().contains(KappaStreams.deadLetters) else { return nil }
        let stream = try log.openStream(named: KappaStreams.deadLetters)
        var entries: [Entry] = []
        for partition in 0..<stream.partitionCount {
            let range = stream.offsets(partition: partition)
            var offset = max(range.start, range.highWatermark - Int64(limit))
            while offset < range.highWatermark {
                let batch = try await stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 1000, maxBytes: 4 << 20))
                guard !batch.records.isEmpty else { break }
                for record in batch.records {
                    guard let letter = record.value.withUnsafeBytes({ try? DeadLetterRecord.decode($0) }) else { continue }
                    entries.append(Entry(partition: partition, offset: record.offset, letter: letter))
                }
                offset = batch.nextOffset
            }
        }
        return entries
    }
}
