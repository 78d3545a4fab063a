import KappaCore
public import KappaLog

/// The anomaly processor: runs the detectors over the readings stream and keeps the `anomalies` view.
///
/// **Exactly once.** Each checkpoint upserts the episodes that changed since the last one (keyed by device,
/// metric, detector and start time, so a re-run writes the same rows) and saves every changed partition's
/// engine state (its header and the chunks of the devices that changed), in the transaction that also moves
/// the offsets. After a crash the engines restart from
/// the snapshots of the committed offsets and the duplicate windows are rebuilt from the log, so they emit the
/// same events as an uninterrupted run, and the table ends identical. A row shows the episode as of its last
/// event (opened, peak grown, closed); rows never depend on where checkpoints fell.
///
/// **Acting on it.** Each new episode is announced by the store inside the checkpoint transaction (PostgreSQL's
/// `NOTIFY kappa_anomalies`, sent only if it commits), then handed to the alert sink after the commit.
public final class AnomalyProcessor: StreamProcessor {
    private var pipeline: AnomalyPipeline
    private var events: [AnomalyEvent] = []
    /// The episodes changed since the last checkpoint.
    private var changed = EpisodeLedger()
    /// The partitions whose engine state changed since the last checkpoint.
    public private(set) var dirtyPartitions: Set<Int> = []
    private let alertSink: (any AnomalyAlertSink)?

    public init(
        partitionCount: Int, duplicateWindowRecords: Int, settings: AnomalyConfiguration, alertSink: (any AnomalyAlertSink)?,
        memory: SeriesMemory = SeriesMemory()
    ) {
        pipeline = AnomalyPipeline(configuration: settings, partitionCount: partitionCount, duplicateWindowRecords: duplicateWindowRecords, memory: memory)
        self.alertSink = alertSink
    }

    deinit {
        pipeline.releaseAllSeries()
    }

    /// Each episode changed since the last checkpoint, as of its latest event.
    public var changedEpisodes: some Collection<AnomalyEpisode> { changed.episodes }
    /// The episodes opened since the last checkpoint, in the order they opened.
    public var openedEpisodes: [AnomalyEpisode] { changed.opened }

    /// Bytes of the snapshots made since the last commit: freed by then, given back to the system when many.
    private var snapshotBytes = 0

    /// A partition's whole engine state (what checkpoints saved before they saved only changed devices).
    public func snapshot(partition: Int) -> [UInt8] {
        let bytes = pipeline.engines[partition].snapshot()
        snapshotBytes += bytes.count
        return bytes
    }

    /// A partition's engine-level state, to save with the checkpoint beside its changed devices' chunks.
    public func stateHeader(partition: Int) -> [UInt8] {
        pipeline.engines[partition].stateHeader()
    }

    /// The devices of `partition` changed since the last commit, whose chunks the checkpoint saves.
    public func changedDeviceChunks(partition: Int) -> AnomalyDeviceChunks {
        pipeline.engines[partition].changedDeviceChunks()
    }

    /// The chunk of the `position`th device of `chunks` (made from `partition` since the last apply).
    public func deviceChunk(_ position: Int, of chunks: AnomalyDeviceChunks, partition: Int) -> [UInt8] {
        let bytes = pipeline.engines[partition].deviceChunk(position, of: chunks)
        snapshotBytes += bytes.count
        return bytes
    }

    /// Puts back the engine state of `partition` saved whole by a build before incremental state, and marks all
    /// of it changed so the next checkpoint saves it in chunks.
    public func restore(partition: Int, snapshot: [UInt8], partitionCount: Int) throws(ProcessorError) {
        try checkPartition(partition, partitionCount)
        do {
            try pipeline.restore(partition: partition, snapshot: snapshot)
        } catch {
            throw ProcessorError(code: .corruptState, processor: "anomalies", message: "the snapshot of partition \(partition) does not restore: \(error)")
        }
        pipeline.markEveryDeviceChanged(partition: partition)
        dirtyPartitions.insert(partition)
    }

    /// Puts back the engine state of `partition` saved with the last checkpoint: its header and every device's chunk.
    public func restore(partition: Int, header: [UInt8], deviceChunks: [[UInt8]], partitionCount: Int) throws(ProcessorError) {
        try checkPartition(partition, partitionCount)
        do {
            try pipeline.restore(partition: partition, header: header, deviceChunks: deviceChunks)
        } catch {
            throw ProcessorError(code: .corruptState, processor: "anomalies", message: "the state of partition \(partition) does not restore: \(error)")
        }
    }

    private func checkPartition(_ partition: Int, _ partitionCount: Int) throws(ProcessorError) {
        guard partition >= 0, partition < partitionCount else {
            throw ProcessorError(code: .corruptState, processor: "anomalies", message: "a snapshot for partition \(partition), the stream has \(partitionCount)")
        }
    }

    /// The devices whose state is out of memory (idle, see AnomalyEngine+Eviction) that applying `batch` would
    /// touch, per partition: their stored chunks must be given back (``reload(partition:device:chunk:)``) first.
    public func devicesToReload(_ batch: [(partition: Int, records: [LogRecord])]) -> [(partition: Int, devices: [Int32])] {
        batch.compactMap { partition, records in
            let devices = pipeline.devicesToReload(records, partition: partition)
            return devices.isEmpty ? nil : (partition, devices)
        }
    }

    /// Brings an evicted device of `partition` back from the chunk stored for it.
    public func reload(partition: Int, device: Int32, chunk: [UInt8]) throws(ProcessorError) {
        do {
            try pipeline.reload(partition: partition, device: device, chunk: chunk)
        } catch {
            throw ProcessorError(code: .corruptState, processor: "anomalies", message: "device \(device) of partition \(partition) does not reload: \(error)")
        }
    }

    /// Devices whose state is out of memory now, over all partitions.
    public var evictedDeviceCount: Int { pipeline.engines.reduce(0) { $0 + $1.evictedDeviceCount } }

    public func resume(stream: any LogStream, offsets: [Int64]) async throws {
        try await pipeline.rebuildDuplicateWindows(stream: stream, resumeOffsets: offsets)
    }

    public func apply(_ record: LogRecord, partition: Int) {
        pipeline.apply(record, partition: partition, into: &events)
        dirtyPartitions.insert(partition)
        guard !events.isEmpty else { return }
        for event in events { changed.record(event) }
        events.removeAll(keepingCapacity: true)
    }

    public var hasPendingOutput: Bool { !dirtyPartitions.isEmpty || !changed.isEmpty }

    public func committed() {
        if let alertSink, !changed.opened.isEmpty { alertSink.announce(changed.opened) }
        changed.removeAll()
        for partition in dirtyPartitions { pipeline.forgetChanges(partition: partition) }
        dirtyPartitions.removeAll(keepingCapacity: true)
        pipeline.releaseIdleSeries()
        pipeline.evictIdleDevices(now: .now)
        MallocTuning.afterFreeing(snapshotBytes)
        snapshotBytes = 0
    }

    public var counters: ProcessorCounters {
        ProcessorCounters(
            duplicates: pipeline.duplicates, lateReadings: 0, undecodable: pipeline.undecodable,
            stateEvictions: pipeline.engines.reduce(0) { $0 + $1.evictions }, stateReloads: pipeline.engines.reduce(0) { $0 + $1.reloads }
        )
    }
}
