public import KappaLog

/// Where a processor's output and consumed offsets are committed together (PostgreSQL in `KappaStorage`).
///
/// The runner opens one ``CheckpointSession`` and keeps it for its life; the store decides how a processor's
/// pending output is written (its writer) and fences two instances of one processor against each other.
public protocol CheckpointStore<Processor>: Sendable {
    associatedtype Processor: StreamProcessor
    associatedtype Session: CheckpointSession<Processor>

    /// Connects; throws a ``CheckpointStoreError`` that ``CheckpointStoreError/isTransient`` while the store is
    /// unreachable.
    func openSession() async throws -> Session
}

/// One connection of a ``CheckpointStore``, used by one runner task at a time.
public protocol CheckpointSession<Processor>: AnyObject {
    associatedtype Processor: StreamProcessor

    /// The committed next offset per partition (missing partitions were never committed).
    func loadOffsets() async throws -> [Int: Int64]

    /// Loads what the store keeps for `processor` (open buckets, detector snapshots, known partitions…) into
    /// it, before it resumes from `offsets`.
    func load(into processor: Processor, stream: any LogStream, offsets: [Int64]) async throws

    /// Gives `processor` what applying `batch` (records per partition, in log order) needs that it keeps only in
    /// the store (state that left memory while idle); called before each batch is applied.
    func prepare(_ processor: Processor, batch: [(partition: Int, records: [LogRecord])]) async throws

    /// In one transaction: writes `processor`'s pending output and `rejected`, and moves the offsets from
    /// `previous` to `offsets`, failing if another instance moved them meanwhile.
    func commit(_ processor: Processor, rejected: [RejectedRecord], offsets: [Int64], previous: [Int64]) async throws

    /// Writes `processor`'s pending output in a transaction that is always rolled back: nil when the store took
    /// it, else the data-dependent error it met.
    func trial(_ processor: Processor) async throws -> (any CheckpointStoreError)?

    /// Reconnects after a transient failure. Partition claims do not survive it: the runner checks them again.
    func reset() async throws

    /// Who holds the partitions of `partitionCount` (see ``PartitionOwnership/shared(rebalanceInterval:)``),
    /// after making this session a member if it is not one yet.
    func partitionClaims(partitionCount: Int) async throws -> PartitionClaims

    /// Claims `partition` for this session unless another holds it; whether this session holds it now.
    func claim(partition: Int) async throws -> Bool

    /// Gives up this session's claim on `partition` (after its last checkpoint, so the next owner starts there).
    func release(partition: Int) async throws

    func close() async
}

extension CheckpointSession {
    /// Processors that keep all their state in memory need nothing before a batch.
    public func prepare(_ processor: Processor, batch: [(partition: Int, records: [LogRecord])]) async throws {}
}

/// What the runner needs to know about a store's failure.
public protocol CheckpointStoreError: Error, CustomStringConvertible {
    /// Retrying after ``CheckpointSession/reset()`` may succeed (connection lost, server restarting).
    var isTransient: Bool { get }
    /// The failure depends on the data written, not on the store: leaving the records out cures it.
    var dependsOnData: Bool { get }
    /// The store's own code for it (PostgreSQL's SQLSTATE), kept with rejected records.
    var storeCode: String? { get }
}

/// A record whose output the store refused for what it holds (a NUL in a name, a value out of range, an index
/// row too large): set aside with the error so that the processor can go on without it.
public struct RejectedRecord {
    public var partition: Int
    public var offset: Int64
    public var value: [UInt8]
    public var error: any CheckpointStoreError
}
