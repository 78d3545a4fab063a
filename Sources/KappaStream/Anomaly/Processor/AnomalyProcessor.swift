import KappaCore
import KappaLog
import KappaPostgres

/// The anomaly processor: runs the detectors over the readings stream and keeps the `anomalies` view.
///
/// **Exactly once.** Each checkpoint upserts the episodes that changed since the last one (keyed by device,
/// metric, detector and start time, so a re-run writes the same rows) and saves every changed partition's
/// engine snapshot, in the transaction that also moves the offsets. After a crash the engines restart from
/// the snapshots of the committed offsets and the duplicate windows are rebuilt from the log, so they emit the
/// same events as an uninterrupted run, and the table ends identical. A row shows the episode as of its last
/// event (opened, peak grown, closed); rows never depend on where checkpoints fell.
///
/// **Acting on it.** Each new episode is announced with `pg_notify('kappa_anomalies', json)` inside the
/// checkpoint transaction (sent only if it commits), then handed to the alert sink after the commit.
final class AnomalyProcessor: StreamProcessor {
    static let notificationChannel = "kappa_anomalies"

    private var pipeline: AnomalyPipeline
    private var events: [AnomalyEvent] = []
    /// The episodes changed since the last checkpoint.
    private var changed = EpisodeLedger()
    private var dirtyPartitions: Set<Int> = []
    private let tables: AnomalyTables
    private let alertSink: (any AnomalyAlertSink)?

    init(partitionCount: Int, configuration: ProcessorConfiguration, schema: PostgresIdentifier, alertSink: (any AnomalyAlertSink)?) {
        pipeline = AnomalyPipeline(
            configuration: configuration.anomalies, partitionCount: partitionCount,
            duplicateWindowRecords: configuration.duplicateWindowRecords
        )
        tables = AnomalyTables(schema: schema, version: configuration.outputVersion)
        self.alertSink = alertSink
    }

    func prepare(connection: PostgresConnection, stream: any LogStream, offsets: [Int64]) async throws {
        let rows = try await connection.query("SELECT partition, snapshot FROM \(tables.state) ORDER BY partition")
        for row in rows {
            let partition = try row[0].int
            guard partition >= 0, partition < stream.partitionCount else {
                throw ProcessorError(code: .corruptState, processor: "anomalies", message: "a snapshot for partition \(partition), the stream has \(stream.partitionCount)")
            }
            do {
                try pipeline.restore(partition: partition, snapshot: try row[1].bytes)
            } catch {
                throw ProcessorError(code: .corruptState, processor: "anomalies", message: "the snapshot of partition \(partition) does not restore: \(error)")
            }
        }
        try await pipeline.rebuildDuplicateWindows(stream: stream, resumeOffsets: offsets)
    }

    func apply(_ record: LogRecord, partition: Int) {
        pipeline.apply(record, partition: partition, into: &events)
        dirtyPartitions.insert(partition)
        guard !events.isEmpty else { return }
        for event in events { changed.record(event) }
        events.removeAll(keepingCapacity: true)
    }

    var hasPendingOutput: Bool { !dirtyPartitions.isEmpty || !changed.isEmpty }

    func write(connection: PostgresConnection) async throws {
        var statements: [PostgresStatement] = []
        for episode in changed.episodes {
            statements.append(PostgresStatement(tables.upsertEpisode, [
                .text(episode.device), .text(episode.metric), .text(episode.detector.name),
                .timestamptz(episode.startTime), .timestamptz(episode.detectedAt), PostgresValue(episode.endTime),
                .double(episode.peakScore), PostgresValue(episode.value.finite), PostgresValue(episode.expectedLow.finite),
                PostgresValue(episode.expectedHigh.finite), .text(episode.severity.description),
            ]))
        }
        for episode in changed.opened {
            statements.append(PostgresStatement("SELECT pg_notify($1, $2)", [.text(Self.notificationChannel), .text(episode.jsonText)]))
        }
        if !statements.isEmpty { _ = try await connection.executeBatch(statements) }
        // One partition's snapshot at a time: with a large fleet the snapshots of all partitions, and libpq's
        // copy of each, held at once were most of the gateway's peak memory per series.
        for partition in dirtyPartitions.sorted() {
            _ = try await connection.execute(tables.saveSnapshot, [.int64(Int64(partition)), .bytea(pipeline.engines[partition].snapshot())])
        }
    }

    func committed() {
        if let alertSink, !changed.opened.isEmpty { alertSink.announce(changed.opened) }
        changed.removeAll()
        dirtyPartitions.removeAll(keepingCapacity: true)
    }

    var counters: ProcessorCounters {
        ProcessorCounters(duplicates: pipeline.duplicates, lateReadings: 0, undecodable: pipeline.undecodable)
    }
}

/// The anomaly tables of one output version and the statements that write them.
struct AnomalyTables {
    let episodes: String
    let state: String

    init(schema: PostgresIdentifier, version: String) {
        episodes = PostgresIdentifier("anomalies_\(version)").qualified(in: schema)
        state = PostgresIdentifier("anomaly_state_\(version)").qualified(in: schema)
    }

    var upsertEpisode: String {
        """
        INSERT INTO \(episodes) (device, metric, detector, start_time, detected_at, end_time, peak_score, value, expected_low, expected_high, severity)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (device, metric, detector, start_time) DO UPDATE SET
            detected_at = excluded.detected_at, end_time = excluded.end_time, peak_score = excluded.peak_score,
            value = excluded.value, expected_low = excluded.expected_low, expected_high = excluded.expected_high,
            severity = excluded.severity, updated_at = now()
        """
    }

    var saveSnapshot: String {
        """
        INSERT INTO \(state) (partition, snapshot) VALUES ($1, $2)
        ON CONFLICT (partition) DO UPDATE SET snapshot = excluded.snapshot, updated_at = now()
        """
    }
}

extension Optional<Double> {
    /// NaN and infinities have no place in the table: they become NULL.
    fileprivate var finite: Double? { flatMap { $0.isFinite ? $0 : nil } }
}
