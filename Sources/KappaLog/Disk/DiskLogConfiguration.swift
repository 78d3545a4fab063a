/// When appended bytes are forced to the disk with `fdatasync`.
public enum FsyncPolicy: Sendable, Equatable {
    /// Before `append` returns. Concurrent appenders to a partition share one sync (group commit).
    case always
    /// By a background thread every `interval`, or sooner once `bytes` are unsynced in a partition.
    /// A crash of the process loses nothing; a power cut loses at most about that much.
    case interval(Duration, bytes: Int)
    /// Left to the kernel.
    case never

    public static let `default` = FsyncPolicy.interval(.milliseconds(100), bytes: 16 << 20)
}

/// What retention deletes: whole closed segments from the front of each partition.
public struct RetentionPolicy: Sendable, Equatable {
    /// Delete a segment whose last write is older than this.
    public var maxAge: Duration?
    /// Delete the oldest segments while a partition holds more than this.
    public var maxBytesPerPartition: Int64?
    /// How often the background thread applies the policy (``DiskLog/applyRetention(force:)`` applies it now).
    public var checkInterval: Duration

    public init(maxAge: Duration? = .seconds(7 * 24 * 3600), maxBytesPerPartition: Int64? = nil, checkInterval: Duration = .seconds(60)) {
        self.maxAge = maxAge
        self.maxBytesPerPartition = maxBytesPerPartition
        self.checkInterval = checkInterval
    }
}

public struct DiskLogConfiguration: Sendable {
    public var fsync: FsyncPolicy = .default
    /// A segment rolls before it would exceed this size.
    public var segmentMaxBytes: Int64 = 128 << 20
    /// A segment rolls once this long has passed since it was opened (age counts from this process's opening).
    public var segmentMaxAge: Duration = .seconds(3600)
    /// One sparse index entry per this many bytes of batches.
    public var indexIntervalBytes: Int = 4096
    /// The largest batch written; larger batch appends are split. Records above it are refused.
    public var maxBatchBytes: Int = 8 << 20
    public var retention = RetentionPolicy()
    /// Appends are refused with ``LogError/Code/belowDiskFloor`` while free space on the log's file system is
    /// below this (0 disables the check).
    public var diskFloorBytes: Int64 = 256 << 20
    /// Open without writing anything: no recovery truncation, no lock, appends throw ``LogError/Code/readOnly``.
    /// For inspecting a log another process is writing (`kappa log info`, `tail`, `dump`).
    public var readOnly = false

    public init() {}
}
