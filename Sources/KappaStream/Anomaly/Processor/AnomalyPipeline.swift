import KappaCore
public import KappaLog

/// Readings records in, episode events out: the anomaly processor's work without the database, shared with
/// `kappa eval anomalies` so that what is scored is exactly what the processor writes.
///
/// Each partition has its own engine, fed in log order after the same duplicate dropping as every readings
/// processor (``ReadingIntake``); its watermark is the partition's newest event time, so gaps are found by the
/// partition's event-time progress and a replay finds the same ones.
public struct AnomalyPipeline {
    private var intake: ReadingIntake
    public private(set) var engines: [AnomalyEngine]
    private let idleAfter: Duration?
    /// When the engines' current idle sweep began (see AnomalyEngine+Eviction).
    private var sweepStarted: ContinuousClock.Instant?

    public init(configuration: AnomalyConfiguration, partitionCount: Int, duplicateWindowRecords: Int, memory: SeriesMemory = SeriesMemory()) {
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords, memory: memory)
        engines = Array(repeating: AnomalyEngine(configuration: configuration), count: partitionCount)
        idleAfter = memory.idleAfter
    }

    /// Applies one record of `partition` (log order) and appends the events it causes.
    public mutating func apply(_ record: LogRecord, partition: Int, into events: inout [AnomalyEvent]) {
        guard let (_, reading) = intake.accept(record, partition: partition) else { return }
        engines[partition].process(reading, into: &events)
        engines[partition].advanceWatermark(partitionTime: reading.time, into: &events)
    }

    /// Judges what a partition's engine still holds, at the end of a finite stream.
    public mutating func finish(partition: Int, into events: inout [AnomalyEvent]) {
        engines[partition].judgeAllPending(into: &events)
    }

    /// Readings dropped as redelivered duplicates, and records that held no reading.
    public var duplicates: Int64 { intake.duplicates }
    public var undecodable: Int64 { intake.undecodable }

    /// Every episode still open, partition by partition.
    public func openEpisodes() -> [AnomalyEpisode] { engines.flatMap { $0.openEpisodes() } }

    /// Puts back a partition's engine state saved whole with a checkpoint (by builds before incremental state).
    mutating func restore(partition: Int, snapshot: [UInt8]) throws(AnomalySnapshotError) {
        try engines[partition].restore(from: snapshot)
    }

    /// Puts back a partition's engine state saved as a header and one chunk per device.
    mutating func restore(partition: Int, header: [UInt8], deviceChunks: [[UInt8]]) throws(AnomalySnapshotError) {
        try engines[partition].restore(header: header, deviceChunks: deviceChunks)
    }

    /// The partition's next save writes every device.
    mutating func markEveryDeviceChanged(partition: Int) {
        engines[partition].markEveryDeviceChanged()
    }

    /// The partition's state as it is now was saved.
    mutating func forgetChanges(partition: Int) {
        engines[partition].forgetChanges()
    }

    /// Lets the series idle past the setting go from the intake (the engines' devices leave on terms of their
    /// own: ``evictIdleDevices(now:)``).
    mutating func releaseIdleSeries() {
        intake.release(intake.idleSeries(now: .now))
    }

    /// Right after a commit: lets the devices idle past the setting leave the engines (every `idleAfter`), and
    /// the devices brought back only for a deadline leave again.
    mutating func evictIdleDevices(now: ContinuousClock.Instant) {
        guard let idleAfter else { return }
        var sweep = false
        if let started = sweepStarted {
            sweep = now - started >= idleAfter
        } else {
            sweepStarted = now
        }
        if sweep { sweepStarted = now }
        for partition in engines.indices { engines[partition].evictIdleDevices(sweep: sweep) }
    }

    /// The evicted devices of `partition` that applying `records` would touch (see AnomalyEngine+Eviction).
    func devicesToReload(_ records: [LogRecord], partition: Int) -> [Int32] {
        guard engines[partition].evictedDeviceCount > 0 else { return [] }
        var names: [String] = []
        var newest = Int64.min
        for record in records {
            // (Only the start of each record: the intake decodes it whole when it is applied.)
            guard let (time, device) = record.value.withUnsafeBytes({ ReadingRecord.eventTimeAndDevice($0) }) else { continue }
            names.append(device)
            newest = max(newest, time.nanosecondsSinceEpoch)
        }
        return engines[partition].devicesToReload(names: names, newestTime: newest)
    }

    mutating func reload(partition: Int, device: Int32, chunk: [UInt8]) throws(AnomalySnapshotError) {
        try engines[partition].reload(device: device, chunk: chunk)
    }

    /// Lets every series go: the pipeline's processor is going away.
    mutating func releaseAllSeries() {
        intake.releaseAll()
    }

    /// Refills the duplicate windows from the records just before where consuming resumes.
    mutating func rebuildDuplicateWindows(stream: any LogStream, resumeOffsets: [Int64]) async throws {
        try await intake.rebuild(stream: stream, resumeOffsets: resumeOffsets)
    }
}
