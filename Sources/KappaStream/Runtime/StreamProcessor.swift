import KappaLog
import KappaPostgres

/// The part of a processor that is specific to it: what a record does to its state, and how the pending
/// effects are written. ``ProcessorRunner`` does the rest (reading, offsets, transactions, retries).
///
/// Owned by one runner task; never shared, so not `Sendable`.
protocol StreamProcessor: AnyObject {
    /// Loads what the processor needs before consuming from `offsets` (inside no transaction).
    func prepare(connection: PostgresConnection, stream: any LogStream, offsets: [Int64]) async throws

    /// Applies one record of `partition`, in log order.
    func apply(_ record: LogRecord, partition: Int)

    /// Whether anything awaits writing.
    var hasPendingOutput: Bool { get }

    /// Writes the pending effects; called inside the checkpoint transaction, possibly again after a failure.
    func write(connection: PostgresConnection) async throws

    /// The transaction committed: forget the pending effects.
    func committed()

    /// Running totals for ``ProcessorStatus``.
    var counters: ProcessorCounters { get }
}

/// What every processor reports through the runner.
struct ProcessorCounters {
    var duplicates: Int64 = 0
    var lateReadings: Int64 = 0
    var undecodable: Int64 = 0
}
