public import KappaCore

/// A durable log of streams, each split into a fixed number of partitions.
///
/// The embedded implementation is ``DiskLog``; a NATS JetStream backend can implement the same two protocols.
public protocol PartitionedLog: Sendable {
    associatedtype Stream: LogStream

    /// Creates a stream with `partitionCount` partitions, or opens it if it exists with that count.
    /// Throws ``LogError/Code/streamMismatch`` if it exists with another count.
    func createStream(named name: String, partitionCount: Int) throws(LogError) -> Stream

    /// Opens an existing stream; throws ``LogError/Code/streamNotFound`` otherwise.
    func openStream(named name: String) throws(LogError) -> Stream

    /// The names of the streams present, sorted.
    func streamNames() throws(LogError) -> [String]
}

/// One stream of a ``PartitionedLog``: appends routed by key, reads and waits per partition, consumer offsets.
///
/// Offsets are per partition, ascending, start at 0 and are never reused; they are dense except where
/// records were lost (see ``ensureNextOffset(partition:atLeast:reason:)``). A consumer's committed offset is the
/// next offset it will read (as in Kafka).
public protocol LogStream: Sendable {
    var name: String { get }
    var partitionCount: Int { get }

    /// The partition a key's records go to: a stable hash, the same in every process and version.
    func partition(forKey key: [UInt8]) -> Int

    /// Appends one record; when this returns, the record is in the log (for the disk log: written to the
    /// kernel, so a crash of the process cannot lose it; surviving a power cut depends on the fsync policy).
    ///
    /// Synchronous and callable from any thread, e.g. the MQTT library's network thread inside its message
    /// callback, before the message is acknowledged. Don't call it from Swift's cooperative pool in a loop:
    /// it may block on the disk.
    func append(key: [UInt8], eventTime: Timestamp, value: [UInt8]) throws(LogError) -> LogPosition

    /// Appends records together (one batch per partition touched), in order; positions are returned in
    /// input order. Batching is what makes millions of records per second possible.
    func append(_ records: [LogAppendRecord]) throws(LogError) -> [LogPosition]

    /// Reads from `offset` in `partition`, blocking the calling thread on file reads.
    func read(partition: Int, from offset: Int64, limits: LogReadLimits) throws(LogError) -> LogReadResult

    /// Reads from `offset` in `partition`; the file reads run off Swift's cooperative pool.
    func read(partition: Int, from offset: Int64, limits: LogReadLimits) async throws -> LogReadResult

    /// Reads several partitions in the order given, each from its offset within `limits`, and at most
    /// `totalRecords` records over all of them: the reads stop at the first that reaches the total, so the
    /// results may be fewer than the partitions (never more), in the same order. As one read per partition
    /// would; the disk log does them all in one hop off the cooperative pool (a consumer of many partitions on
    /// the live tail made one hop, two thread switches, per partition per pass).
    func read(_ partitions: [(partition: Int, offset: Int64)], limits: LogReadLimits, totalRecords: Int) async throws -> [LogReadResult]

    /// Blocks the calling thread until the record at `offset` exists or `timeout` passes; true if it exists.
    func waitForRecords(partition: Int, from offset: Int64, timeout: Duration) -> Bool

    /// Suspends until the record at `offset` exists. Throws `CancellationError` when the task is cancelled
    /// and ``LogError/Code/closed`` when the log closes. Appends resume waiters; nothing polls.
    func waitForRecords(partition: Int, from offset: Int64) async throws

    /// The first offset whose record's event time is at or after `time` (records of a partition are in
    /// append order, not time order: this is the first record after which the running maximum reaches `time`),
    /// or the high watermark if there is none.
    func offset(partition: Int, atOrAfter time: Timestamp) throws(LogError) -> Int64

    func offsets(partition: Int) -> LogOffsetRange

    /// Makes sure the next record appended to `partition` gets at least `offset`, for a consumer that
    /// committed `offset` elsewhere while the log ends before it (it lost records: a corrupt tail, a power cut
    /// with fsync off). The offsets skipped are recorded as lost (returned; nil when nothing was skipped) and
    /// never handed out again, so the consumer neither fails nor skips records appended later. Reads across
    /// lost offsets go on at the next record. Blocks on the disk.
    func ensureNextOffset(partition: Int, atLeast offset: Int64, reason: String) throws(LogError) -> RecordedLoss?

    /// Stores a consumer group's committed offsets locally (next offset to read, per partition).
    func commit(group: String, offsets: [Int: Int64]) throws(LogError)

    /// A consumer group's committed offsets (empty if it never committed).
    func committedOffsets(group: String) throws(LogError) -> [Int: Int64]

    /// Tells the log how far a consumer that keeps its offsets elsewhere (PostgreSQL) has committed,
    /// so retention keeps what it still needs. Not a source of truth for that consumer.
    func registerProgress(consumer: String, offsets: [Int: Int64]) throws(LogError)
}

extension LogStream {
    public func read(_ partitions: [(partition: Int, offset: Int64)], limits: LogReadLimits, totalRecords: Int) async throws -> [LogReadResult] {
        var results: [LogReadResult] = []
        var room = totalRecords
        for (partition, offset) in partitions where room > 0 {
            var partitionLimits = limits
            partitionLimits.maxRecords = min(limits.maxRecords, room)
            let result = try await read(partition: partition, from: offset, limits: partitionLimits)
            room -= result.records.count
            results.append(result)
        }
        return results
    }

    public func partition(forKey key: String) -> Int {
        partition(forKey: Array(key.utf8))
    }

    /// Appends one record with a text key (a device id).
    public func append(key: String, eventTime: Timestamp, value: [UInt8]) throws(LogError) -> LogPosition {
        try append(key: Array(key.utf8), eventTime: eventTime, value: value)
    }
}
