public import KappaLog

/// The part of a processor that is specific to it: what a record does to its state and pending output (its
/// delta since the last checkpoint). ``ProcessorRunner`` does the rest (reading, checkpoint decisions,
/// retries) and a ``CheckpointStore`` persists the delta with the offsets.
///
/// Owned by one runner task; never shared, so not `Sendable`.
public protocol StreamProcessor: AnyObject {
    /// Readies the in-memory state from the log before consuming from `offsets` (duplicate windows); called
    /// after the store loaded what it keeps for the processor.
    func resume(stream: any LogStream, offsets: [Int64]) async throws

    /// Applies one record of `partition`, in log order.
    func apply(_ record: LogRecord, partition: Int)

    /// Whether anything awaits writing.
    var hasPendingOutput: Bool { get }

    /// The checkpoint committed: forget the pending output.
    func committed()

    /// Running totals for ``ProcessorStatus``.
    var counters: ProcessorCounters { get }
}

/// What every processor reports through the runner.
public struct ProcessorCounters: Sendable {
    public var duplicates: Int64 = 0
    public var lateReadings: Int64 = 0
    public var undecodable: Int64 = 0
    /// Times an idle device's (or series') state left memory, and times such state was brought back.
    public var stateEvictions: Int64 = 0
    public var stateReloads: Int64 = 0

    public init(duplicates: Int64 = 0, lateReadings: Int64 = 0, undecodable: Int64 = 0, stateEvictions: Int64 = 0, stateReloads: Int64 = 0) {
        self.duplicates = duplicates
        self.lateReadings = lateReadings
        self.undecodable = undecodable
        self.stateEvictions = stateEvictions
        self.stateReloads = stateReloads
    }
}
