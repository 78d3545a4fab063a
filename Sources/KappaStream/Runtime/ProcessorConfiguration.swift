/// What the processors share: how often they checkpoint, how big a batch may grow, which output version
/// they write; and, as the gateway's settings hold them, the built-in processors' own settings, which each
/// processor receives as its own type (``rollups``, ``devices``, ``archive``, ``anomalies``).
public struct ProcessorConfiguration: Sendable {
    /// The longest a consumed record waits before its effect is committed (default 1 s).
    public var checkpointInterval: Duration = .seconds(1)
    /// A checkpoint is taken once this many records are consumed, even before the interval.
    public var maxBatchRecords: Int = 50_000
    /// Records per log read.
    public var readLimits = LogReadLimitsSetting(maxRecords: 10_000, maxBytes: 4 << 20)
    /// The output version written (`rollups_v1`, …); a replay writes a new one beside the live one.
    public var outputVersion = "v1"
    /// Rollup bucket widths in seconds, each once.
    public var rollupWidths: [Int64] = [60, 3600, 86_400]
    /// Whether ``rollupWidths`` was set rather than left at its default: a gateway then writes the active
    /// rollups version with exactly these widths (refusing one built with others) instead of following it.
    public var rollupWidthsGiven = false
    /// How long each width's rollups are kept (the gateway drops whole partitions past it).
    public var rollupRetention = RollupRetention()
    /// Tag keys shown as columns of the series dictionary and the rollup views (`GROUP BY site`).
    public var rollupTagColumns: [String] = []
    /// Per partition, how many preceding records a redelivered duplicate is looked for in (see ``DuplicateWindow``).
    public var duplicateWindowRecords = 4096
    /// The series registry the processors made with this configuration share, and how long a series may stay
    /// silent before their state for it leaves memory (read back from the checkpoint if it returns).
    public var seriesMemory = SeriesMemory(idleAfter: .seconds(600))
    /// A device is shown offline after this long without a reading.
    public var deviceOfflineAfter: Duration = .seconds(300)
    /// Raw readings older than this are not archived, and their day partitions are dropped; nil keeps all.
    public var archiveRetention: Duration? = .seconds(30 * 86_400)
    /// Day partitions created ahead of today.
    public var archiveDaysAhead = 3
    /// Dead letters received longer ago than this are dropped with their day partition; nil keeps all.
    public var deadLetterRetention: Duration? = .seconds(30 * 86_400)
    /// The detectors' settings, per metric.
    public var anomalies = AnomalyConfiguration()
    /// The nice value (0–19) of the processors' own threads (``ProcessorExecutor``), so that in a process that also takes in
    /// messages (`kappa run`) a busy processor never slows intake on the same cores. 0 (the default) leaves
    /// thread priorities alone. Processors that fall behind catch up from the log once intake is quieter, and
    /// their lag shows in `/metrics` and `/readyz`.
    public var threadNiceness: Int32 = 0
    /// While the bridge drains a broker backlog (``IntakePressure``), a processor more than `lagRecords`
    /// behind defers its reads and checkpoints, for at most `longest` since its last checkpoint, so it keeps
    /// making progress under an endless backlog. nil never defers.
    public var intakeDeferral: IntakeDeferral? = IntakeDeferral()
    /// Live, after a read of few records, how long a processor lets more gather before reading again (see
    /// ``ReadCoalescing``); nil reads on at once.
    public var readCoalescing: ReadCoalescing? = ReadCoalescing()
    /// When the log has been quiet this long (nothing read since), records pending are checkpointed without
    /// waiting for `checkpointInterval`: after a burst, its rows are visible a fraction of a second after the
    /// last of it arrived, not up to a whole interval later. A flow slow enough to go quiet between messages
    /// gets at most one checkpoint per message; one that never goes quiet keeps the interval. nil waits for it.
    public var quietCheckpoint: Duration? = .milliseconds(100)
    /// Every partition (one gateway, embedded log) or a share claimed among the gateways sharing the log.
    public var ownership: PartitionOwnership = .everyPartition
    /// First and longest pause between PostgreSQL retries.
    public var retryInitialDelay: Duration = .milliseconds(200)
    public var retryMaxDelay: Duration = .seconds(10)

    public init() {}

    public var rollups: RollupSettings { RollupSettings(widths: rollupWidths) }
    public var devices: DeviceRegistrySettings { DeviceRegistrySettings(offlineAfter: deviceOfflineAfter) }
    public var archive: ArchiveSettings { ArchiveSettings(retention: archiveRetention, daysAhead: archiveDaysAhead) }
}

/// When a processor gives way to a draining backlog (see ``ProcessorConfiguration/intakeDeferral``).
public struct IntakeDeferral: Sendable {
    public var lagRecords: Int64
    public var longest: Duration

    public init(lagRecords: Int64 = 10_000, longest: Duration = .seconds(5)) {
        self.lagRecords = lagRecords
        self.longest = longest
    }
}

/// How a processor that keeps up reads in batches rather than burst by burst: after an iteration that read
/// fewer than `belowRecords` records, it pauses `pause` (never past its next checkpoint) before reading again.
/// Live, every burst the bridge appends wakes every processor; read at once, an iteration finds a handful of
/// records and pays a log read per partition (a hop to the log's read queue and back, each) for them.
public struct ReadCoalescing: Sendable {
    public var belowRecords: Int
    public var pause: Duration

    public init(belowRecords: Int = 1_000, pause: Duration = .milliseconds(25)) {
        self.belowRecords = belowRecords
        self.pause = pause
    }
}

/// The bounds of one log read (kept apart from KappaLog's type so this configuration stays a plain value).
public struct LogReadLimitsSetting: Sendable {
    public var maxRecords: Int
    public var maxBytes: Int

    public init(maxRecords: Int, maxBytes: Int) {
        self.maxRecords = maxRecords
        self.maxBytes = maxBytes
    }
}
