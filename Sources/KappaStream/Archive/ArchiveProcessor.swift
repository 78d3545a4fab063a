import KappaCore
public import KappaLog

/// Raw readings, duplicates dropped, into `readings_<version>`: a table partitioned by day (UTC).
///
/// Each checkpoint creates the day partitions its readings need (and `archiveDaysAhead` days past today),
/// copies the rows into a staging table with binary COPY and inserts them with `ON CONFLICT DO NOTHING`
/// (the key is device, metric, time, value: a reading is stored once however often it came). Partitions
/// whose day ended more than the retention ago are dropped; readings older than that are not archived.
public final class ArchiveProcessor: StreamProcessor {
    /// One reading to archive (time in µs; tags as a JSON object, nil when none).
    public struct Row: Sendable {
        public var device: String
        public var metric: String
        public var time: Int64
        public var value: Double
        public var timeSource: Int16
        public var tags: String?
    }

    public static let dayMicroseconds: Int64 = 86_400_000_000

    private var intake: ReadingIntake
    /// The readings since the last checkpoint.
    public private(set) var rows: [Row] = []
    /// The days (UTC, µs) whose partitions the pending rows need; the writer adds those it creates.
    public var days: Set<Int64> = []
    /// The days whose partitions exist, as far as this processor knows (loaded, created, dropped by the writer).
    public var knownPartitions: Set<Int64> = []
    /// When the writer last dropped expired partitions; nil before the first checkpoint.
    public var lastRetentionCheck: ContinuousClock.Instant?
    private var expired: Int64 = 0
    public let settings: ArchiveSettings

    public init(partitionCount: Int, duplicateWindowRecords: Int, settings: ArchiveSettings, memory: SeriesMemory = SeriesMemory()) {
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords, memory: memory)
        self.settings = settings
    }

    deinit {
        intake.releaseAll()
    }

    /// Readings before this time (µs) are not archived; nil keeps all.
    public var retentionCutoff: Int64? {
        settings.retention.map { Timestamp.now().microsecondsSinceEpoch - $0.components.seconds * 1_000_000 }
    }

    public func resume(stream: any LogStream, offsets: [Int64]) async throws {
        try await intake.rebuild(stream: stream, resumeOffsets: offsets)
    }

    public func apply(_ record: LogRecord, partition: Int) {
        guard let (_, reading) = intake.accept(record, partition: partition) else { return }
        let time = reading.time.microsecondsSinceEpoch
        let day = RollupProcessor.floor(time, Self.dayMicroseconds)
        if let cutoff = retentionCutoff, day + Self.dayMicroseconds <= cutoff {
            expired += 1
            return
        }
        days.insert(day)
        rows.append(Row(
            device: reading.device, metric: reading.metric, time: time, value: reading.value,
            timeSource: Int16(reading.timeSource.rawValue), tags: reading.tags.isEmpty ? nil : JSONText.object(reading.tags)
        ))
    }

    public var hasPendingOutput: Bool { !rows.isEmpty || lastRetentionCheck == nil }

    public func committed() {
        // Given back rather than kept at the largest batch's size (see RollupProcessor.committed()).
        rows = []
        knownPartitions.formUnion(days)
        days.removeAll(keepingCapacity: true)
        // Everything is committed: nothing of an idle series is kept beyond the intake's.
        intake.release(intake.idleSeries(now: .now))
    }

    public var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, undecodable: intake.undecodable)
    }
}
