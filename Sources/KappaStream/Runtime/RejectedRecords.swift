import KappaCore
import KappaLog
import KappaPostgres
import Logging

/// A record whose output PostgreSQL refused for what it holds (a NUL in a name, a value out of range, an
/// index row too large): set aside with the error so that the processor can go on without it.
struct RejectedRecord {
    var partition: Int
    var offset: Int64
    var value: [UInt8]
    var error: PostgresError
}

extension PostgresError {
    /// Whether the error depends on the data written, not on the server or the connection: a data exception
    /// (class 22), an integrity constraint violation (23) or a program limit such as an index row too large
    /// (54). Retrying the same records fails the same way; leaving them out does not.
    var dependsOnData: Bool {
        guard let sqlState, !isRetryable else { return false }
        return ["22", "23", "54"].contains(sqlState.class)
    }
}

/// Finds, by bisection, the records of a checkpoint whose output PostgreSQL refuses.
///
/// Each trial starts a fresh processor from the last committed checkpoint (`prepare`), applies a subset of
/// the batch, writes its output inside a transaction and rolls it back. A failing subset of one record is a
/// rejected record. With k bad records among n that is about 2·k·log₂ n trials: costly, but only ever paid for
/// a poison batch, never on the normal path.
struct RejectedRecordIsolation {
    let stream: any LogStream
    let makeProcessor: @Sendable () -> any StreamProcessor
    let logger: Logger

    /// Where the rollback of a successful trial comes from.
    private struct TrialSucceeded: Error {}

    /// The records of `committed..<offsets` (per partition) whose output fails with a data-dependent error.
    func isolate(committed: [Int64], offsets: [Int64], connection: PostgresConnection) async throws -> [RejectedRecord] {
        let batch = try await records(from: committed, to: offsets)
        return try await bisect(batch[...], committed: committed, connection: connection)
    }

    /// A fresh processor resumed at `committed` with `batch` applied, except the records in `skipping`.
    func replayed(_ batch: some Sequence<(partition: Int, record: LogRecord)>, committed: [Int64], skipping: Set<LogPosition> = [],
                  connection: PostgresConnection) async throws -> any StreamProcessor {
        let processor = makeProcessor()
        try await processor.prepare(connection: connection, stream: stream, offsets: committed)
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

    private func bisect(_ batch: ArraySlice<(partition: Int, record: LogRecord)>, committed: [Int64],
                        connection: PostgresConnection) async throws -> [RejectedRecord] {
        guard let failure = try await trial(batch, committed: committed, connection: connection) else { return [] }
        if batch.count == 1, let only = batch.first {
            return [RejectedRecord(partition: only.partition, offset: only.record.offset, value: Array(only.record.value), error: failure)]
        }
        let middle = batch.startIndex + batch.count / 2
        let rejected = try await bisect(batch[..<middle], committed: committed, connection: connection)
            + bisect(batch[middle...], committed: committed, connection: connection)
        guard rejected.isEmpty else { return rejected }
        // Each half is written fine alone, only not together (two records that collide): set the later half
        // aside, which keeps the earlier record of each collision.
        logger.error("Records refused only together; setting the later half aside", metadata: [
            StreamLoggingKey.error: "\(failure)", StreamLoggingKey.records: "\(batch.count - batch.count / 2)",
        ])
        return batch[middle...].map { RejectedRecord(partition: $0.partition, offset: $0.record.offset, value: Array($0.record.value), error: failure) }
    }

    /// Writes the output of `batch` in a transaction that is always rolled back; the data-dependent error it
    /// met, or nil when the write went through.
    private func trial(_ batch: ArraySlice<(partition: Int, record: LogRecord)>, committed: [Int64],
                       connection: PostgresConnection) async throws -> PostgresError? {
        let processor = try await replayed(batch, committed: committed, connection: connection)
        guard processor.hasPendingOutput else { return nil }
        do {
            try await connection.withTransaction { connection in
                try await processor.write(connection: connection)
                throw TrialSucceeded()
            }
        } catch is TrialSucceeded {
            return nil
        } catch let error as PostgresError where error.dependsOnData {
            return error
        }
        return nil
    }

    /// Stores the rejected records with their errors, keyed so that a checkpoint retried stores them once.
    static func store(_ rejected: [RejectedRecord], processor: String, version: String, stream: String,
                      schema: PostgresIdentifier, connection: PostgresConnection) async throws {
        let table = PostgresIdentifier("rejected_records").qualified(in: schema)
        let statements = rejected.map { record in
            PostgresStatement(
                """
                INSERT INTO \(table) (processor, output_version, stream, log_partition, log_offset, sqlstate, error, record)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
                """,
                [.text(processor), .text(version), .text(stream), .int64(Int64(record.partition)), .int64(record.offset),
                 .text(record.error.sqlState?.code ?? ""), .text(record.error.description), .bytea(record.value)]
            )
        }
        _ = try await connection.executeBatch(statements)
    }
}
