import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream

/// Writes ``AnomalyProcessor``'s changed episodes into `anomalies_<version>` (upserts keyed by device, metric,
/// detector and start time, so a re-run writes the same rows), its changed engine snapshots into
/// `anomaly_state_<version>`, and announces each new episode with `pg_notify('kappa_anomalies', json)`.
public struct AnomalyWriter: OutputWriter {
    public static let notificationChannel = "kappa_anomalies"

    let episodes: String
    let state: String

    public init(schema: PostgresIdentifier, version: String) {
        episodes = PostgresIdentifier(ProcessorOutputs.tableName("anomalies", version: version)).qualified(in: schema)
        state = PostgresIdentifier(ProcessorOutputs.tableName("anomaly_state", version: version)).qualified(in: schema)
    }

    public func load(into processor: AnomalyProcessor, stream: any LogStream, connection: PostgresConnection) async throws {
        let rows = try await connection.query("SELECT partition, snapshot FROM \(state) ORDER BY partition")
        for row in rows {
            try processor.restore(partition: try row[0].int, snapshot: try row[1].bytes, partitionCount: stream.partitionCount)
        }
    }

    public func write(_ processor: AnomalyProcessor, connection: PostgresConnection) async throws {
        var statements: [PostgresStatement] = []
        for episode in processor.changedEpisodes {
            statements.append(PostgresStatement(upsertEpisode, [
                .text(episode.device), .text(episode.metric), .text(episode.detector.name),
                .timestamptz(episode.startTime), .timestamptz(episode.detectedAt), PostgresValue(episode.endTime),
                .double(episode.peakScore), PostgresValue(episode.value.finite), PostgresValue(episode.expectedLow.finite),
                PostgresValue(episode.expectedHigh.finite), .text(episode.severity.description),
            ]))
        }
        for episode in processor.openedEpisodes {
            statements.append(PostgresStatement("SELECT pg_notify($1, $2)", [.text(Self.notificationChannel), .text(episode.jsonText)]))
        }
        if !statements.isEmpty { _ = try await connection.executeBatch(statements) }
        // One partition's snapshot at a time: with a large fleet the snapshots of all partitions, and libpq's
        // copy of each, held at once were most of the gateway's peak memory per series.
        for partition in processor.dirtyPartitions.sorted() {
            _ = try await connection.execute(saveSnapshot, [.int64(Int64(partition)), .bytea(processor.snapshot(partition: partition))])
        }
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
