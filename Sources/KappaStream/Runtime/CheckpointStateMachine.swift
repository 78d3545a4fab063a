/// When a processor reads, gives way to intake, checkpoints, waits or stops, as a value: events in, decisions
/// out, no I/O. ``ProcessorRunner`` reads the log, applies records and writes checkpoints as it says.
///
/// One iteration: ``iterationStarts(now:isCancelled:intakeBacklogged:lag:)`` says whether to read, to give way
/// to intake, or (shutdown) to skip reading and take a last checkpoint; the runner reports each partition read
/// with ``partitionRead(_:records:nextOffset:)`` while ``batchRoom`` is positive; ``readingEnded(now:)`` says
/// whether a checkpoint is due; after one commits, ``checkpointCommitted(now:)``; ``iterationEnds(now:)``
/// says whether to stop, to wait for appends, to pause, or to read on.
///
/// A checkpoint is due once `maxBatchRecords` are pending, once `checkpointInterval` has passed since the
/// first pending record was read, once the log has been quiet for `quietCheckpoint` (nothing read since the
/// last record) with records pending, and at shutdown; never when nothing moved (offsets equal to the
/// committed ones), even at shutdown.
///
/// Live, the bridge's bursts arrive every millisecond or so and each wakes every processor: read at once, each
/// iteration would find a handful of records and pay a log read per partition for them. With ``ReadCoalescing``
/// an iteration that read fewer than its `belowRecords` (and did not fill the batch) pauses before the next read (never past the pending
/// records' checkpoint), so records gather; one that read more reads on, so catching up is not slowed.
struct CheckpointStateMachine: Sendable {
    typealias Instant = ContinuousClock.Instant

    struct Limits: Sendable {
        var maxBatchRecords: Int
        var checkpointInterval: Duration
        var intakeDeferral: IntakeDeferral?
        var readCoalescing: ReadCoalescing?
        var quietCheckpoint: Duration?

        init(
            maxBatchRecords: Int, checkpointInterval: Duration, intakeDeferral: IntakeDeferral?, readCoalescing: ReadCoalescing? = nil,
            quietCheckpoint: Duration? = nil
        ) {
            self.maxBatchRecords = maxBatchRecords
            self.checkpointInterval = checkpointInterval
            self.intakeDeferral = intakeDeferral
            self.readCoalescing = readCoalescing
            self.quietCheckpoint = quietCheckpoint
        }
    }

    enum IterationStart: Sendable, Equatable {
        /// Read the partitions in turn while ``batchRoom`` is positive.
        case read
        /// Intake is draining a backlog and this processor is far behind: report, pause 20 ms, start again.
        case deferToIntake
        /// Shutdown: read nothing more, take the last checkpoint if anything is pending.
        case finish
    }

    enum AfterReading: Sendable, Equatable {
        /// Commit the output and move the committed offsets from `from` to `to`.
        case checkpoint(from: [Int64], to: [Int64])
        /// Nothing to commit and nothing read: report the figures (the lag may have grown).
        case report
        /// Records are pending but no checkpoint is due yet.
        case keepPending
    }

    enum IterationEnd: Sendable, Equatable {
        case stop
        /// Nothing was read: wait for appends, at most `timeout` (the next checkpoint's due time, or 1 s).
        case waitForRecords(timeout: Duration)
        /// Few records came: let more gather for this long, then read on.
        case pause(Duration)
        case readOn
    }

    let limits: Limits
    /// Per partition, the next offset the store has committed.
    private(set) var committed: [Int64]
    /// Per partition, the next offset to read.
    private(set) var offsets: [Int64]
    /// Records read since the last checkpoint.
    private(set) var pending = 0
    private var firstPending: Instant?
    /// When the last iteration that read records ended.
    private var lastRead: Instant?
    private var lastCheckpoint: Instant
    private var stopping = false
    private var readAny = false
    /// Records read in this iteration.
    private var iterationRecords = 0
    /// Whether this iteration's reading stopped because the batch was full (more may be waiting).
    private var batchFilled = false

    init(resumingFrom offsets: [Int64], limits: Limits, now: Instant) {
        self.limits = limits
        self.committed = offsets
        self.offsets = offsets
        self.lastCheckpoint = now
    }

    /// How many more records this iteration may read before a checkpoint is due.
    var batchRoom: Int { stopping ? 0 : max(0, limits.maxBatchRecords - pending) }

    /// Whether the last iteration ended with shutdown decided.
    var isStopping: Bool { stopping }

    /// `lag` (records in the log after ``offsets``) is asked only while intake is backlogged.
    mutating func iterationStarts(now: Instant, isCancelled: Bool, intakeBacklogged: Bool, lag: () -> Int64) -> IterationStart {
        readAny = false
        iterationRecords = 0
        batchFilled = false
        if isCancelled {
            stopping = true
            return .finish
        }
        // Give way only for a while after the last checkpoint, so that an endless backlog still sees progress.
        if intakeBacklogged, let deferral = limits.intakeDeferral, now - lastCheckpoint < deferral.longest, lag() > deferral.lagRecords {
            return .deferToIntake
        }
        return .read
    }

    /// One partition read: `records` were applied (0 when it had none; `nextOffset` may still move past lost
    /// offsets).
    mutating func partitionRead(_ partition: Int, records: Int, nextOffset: Int64) {
        offsets[partition] = nextOffset
        guard records > 0 else { return }
        pending += records
        iterationRecords += records
        readAny = true
    }

    mutating func readingEnded(now: Instant) -> AfterReading {
        if readAny, firstPending == nil { firstPending = now }
        if readAny { lastRead = now }
        batchFilled = pending >= limits.maxBatchRecords
        let due = firstPending.map { now >= $0.advanced(by: limits.checkpointInterval) } ?? false
        let quiet = !readAny && pending > 0 && quietUntil.map { now >= $0 } ?? false
        if offsets != committed && (stopping || due || quiet || pending >= limits.maxBatchRecords) {
            return .checkpoint(from: committed, to: offsets)
        }
        return readAny ? .keepPending : .report
    }

    /// The checkpoint ``readingEnded(now:)`` asked for committed.
    mutating func checkpointCommitted(now: Instant) {
        committed = offsets
        lastCheckpoint = now
        pending = 0
        firstPending = nil
    }

    /// When the log will have been quiet long enough for a checkpoint of the records pending (nil: never).
    private var quietUntil: Instant? {
        guard pending > 0, let quiet = limits.quietCheckpoint, let lastRead else { return nil }
        return lastRead.advanced(by: quiet)
    }

    func iterationEnds(now: Instant) -> IterationEnd {
        if stopping { return .stop }
        if readAny {
            // A full batch (a small `maxBatchRecords`) says nothing about how much is waiting: read on.
            guard let coalescing = limits.readCoalescing, iterationRecords < coalescing.belowRecords, !batchFilled else { return .readOn }
            let untilDue = firstPending.map { $0.advanced(by: limits.checkpointInterval) - now } ?? coalescing.pause
            let pause = min(coalescing.pause, untilDue)
            return pause > .zero ? .pause(pause) : .readOn
        }
        var timeout = firstPending.map { $0.advanced(by: limits.checkpointInterval) - now } ?? .seconds(1)
        if let quietUntil { timeout = min(timeout, quietUntil - now) }
        return .waitForRecords(timeout: max(timeout, .milliseconds(1)))
    }
}
