import KappaCore
import KappaLog
import Logging

/// Finds, by bisection, the records of a checkpoint whose output the store refuses.
///
/// Each trial starts a fresh processor from the last committed checkpoint (loaded and resumed), applies a subset
/// of the batch, and has the store write its output in a transaction that is rolled back
/// (``CheckpointSession/trial(_:)``). A failing subset of one record is a rejected record. With k bad records among n that is about 2·k·log₂ n trials: costly, but only ever paid for
/// a poison batch, never on the normal path.
struct RejectedRecordIsolation<Session: CheckpointSession> {
    let stream: any LogStream
    let session: Session
    let makeProcessor: @Sendable () -> Session.Processor
    let logger: Logger

    /// The records of `committed..<offsets` (per partition) whose output fails with a data-dependent error.
    func isolate(committed: [Int64], offsets: [Int64]) async throws -> [RejectedRecord] {
        let batch = try await records(from: committed, to: offsets)
        return try await bisect(batch[...], committed: committed)
    }

    /// A fresh processor resumed at `committed` with `batch` applied, except the records in `skipping`.
    func replayed(_ batch: some Sequence<(partition: Int, record: LogRecord)>, committed: [Int64],
                  skipping: Set<LogPosition> = []) async throws -> Session.Processor {
        let processor = makeProcessor()
        try await session.load(into: processor, stream: stream, offsets: committed)
        try await processor.resume(stream: stream, offsets: committed)
        for (partition, record) in batch where !skipping.contains(LogPosition(partition: partition, offset: record.offset)) {
            processor.apply(record, partition: partition)
        }
        return processor
    }

    /// The batch in partition order; each partition's records in log order, which is all a processor's state
    /// depends on (its state is per partition, and a device's records share one).
    func records(from committed: [Int64], to offsets: [Int64]) async throws -> [(partition: Int, record: LogRecord)] {
        var batch: [(partition: Int, record: LogRecord)] = []
        for partition in offsets.indices {
            var offset = committed[partition]
            while offset < offsets[partition] {
                let result = try await stream.read(
                    partition: partition, from: offset,
                    limits: LogReadLimits(maxRecords: Int(min(offsets[partition] - offset, 10_000)), maxBytes: 4 << 20)
                )
                guard !result.records.isEmpty else { break }
                for record in result.records where record.offset < offsets[partition] {
                    batch.append((partition, record))
                }
                offset = result.nextOffset
            }
        }
        return batch
    }

    private func bisect(_ batch: ArraySlice<(partition: Int, record: LogRecord)>, committed: [Int64]) async throws -> [RejectedRecord] {
        let processor = try await replayed(batch, committed: committed)
        guard processor.hasPendingOutput, let failure = try await session.trial(processor) else { return [] }
        if batch.count == 1, let only = batch.first {
            return [RejectedRecord(partition: only.partition, offset: only.record.offset, value: Array(only.record.value), error: failure)]
        }
        let middle = batch.startIndex + batch.count / 2
        let rejected = try await bisect(batch[..<middle], committed: committed)
            + bisect(batch[middle...], committed: committed)
        guard rejected.isEmpty else { return rejected }
        // Each half is written fine alone, only not together (two records that collide): set the later half
        // aside, which keeps the earlier record of each collision.
        logger.error("Records refused only together; setting the later half aside", metadata: [
            StreamLoggingKey.error: "\(failure)", StreamLoggingKey.records: "\(batch.count - batch.count / 2)",
        ])
        return batch[middle...].map { RejectedRecord(partition: $0.partition, offset: $0.record.offset, value: Array($0.record.value), error: failure) }
    }
}
