import Synchronization

/// What each processor reports for metrics and readiness: lag, checkpoint timing, PostgreSQL errors.
/// Written by the processors, read by anyone (thread-safe).
public final class ProcessorStatus: Sendable {
    public struct Snapshot: Sendable, Hashable {
        public var processor: String
        /// Records in the log not yet committed by this processor.
        public var lagRecords: Int64 = 0
        /// While records wait: the wall clock minus the event time of the newest committed reading (0 when caught up).
        /// For live data that is the delay; for a backfill of old data it is large by nature, so readiness uses `lagRecords`.
        public var lagSeconds: Double = 0
        public var lastCheckpointDuration: Duration?
        public var checkpoints: Int = 0
        /// PostgreSQL failures (each retried).
        public var postgresErrors: Int = 0
        /// Readings dropped as redelivered duplicates.
        public var duplicates: Int64 = 0
        /// Readings that arrived after their rollup bucket had closed in event time (still merged).
        public var lateReadings: Int64 = 0
        /// Records that did not decode (skipped and counted).
        public var undecodable: Int64 = 0
        /// Times idle state left memory and was brought back (the anomaly processor's devices).
        public var stateEvictions: Int64 = 0
        public var stateReloads: Int64 = 0
        /// Records whose output PostgreSQL refused for their content, set aside in `rejected_records`.
        public var rejectedRecords: Int64 = 0
        /// Times the processor put off its work for 20 ms while intake drained a broker backlog.
        public var intakeDeferrals: Int = 0
        /// Why the processor stopped for good (an error retrying cannot cure), or nil; the others and the
        /// bridge keep running, and readiness reports it.
        public var failure: String?
        /// Whether the processor has resumed from its offsets and is consuming.
        public var isRunning = false
        /// The last PostgreSQL failure, until a checkpoint succeeds again (readiness reports it).
        public var databaseProblem: String?
        /// The log partitions this gateway's runner consumes: all of them with the embedded log, its claimed
        /// share when gateways share the log.
        public var ownedPartitions: [Int] = []
        /// Partitions claimed (at start, from a gateway that died or handed them over).
        public var partitionsClaimed: Int = 0
        /// Partitions handed over to another gateway (above the fair share).
        public var partitionsReleased: Int = 0
        /// Times another runner had moved the offsets of a partition this one consumed: its uncommitted work
        /// was dropped and it started again from the committed offsets.
        public var fenced: Int = 0

        public init(processor: String) {
            self.processor = processor
        }
    }

    private let state: Mutex<[String: Snapshot]>

    public init() {
        state = Mutex([:])
    }

    /// Every processor's latest figures, by name.
    public var snapshots: [String: Snapshot] { state.withLock { $0 } }

    public func snapshot(_ processor: String) -> Snapshot? { state.withLock { $0[processor] } }

    func update(_ processor: String, _ change: (inout Snapshot) -> Void) {
        state.withLock { snapshots in
            var snapshot = snapshots[processor] ?? Snapshot(processor: processor)
            change(&snapshot)
            snapshots[processor] = snapshot
        }
    }
}
