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
        // COPY into staging and one set-based upsert, and one statement for the notifications: a fleet with many
        // episodes paid an upsert and a pg_notify statement per episode.
        if !processor.changedEpisodes.isEmpty || !processor.openedEpisodes.isEmpty {
            // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
            try await connection.executeScript(
                """
                SET LOCAL client_min_messages = warning;
                CREATE TEMP TABLE IF NOT EXISTS anomaly_episode_deltas (
                    device text, metric text, detector text, start_time timestamptz, detected_at timestamptz, end_time timestamptz,
                    peak_score float8, value float8, expected_low float8, expected_high float8, severity text
                ) ON COMMIT DELETE ROWS;
                CREATE TEMP TABLE IF NOT EXISTS anomaly_openings (position integer, payload text) ON COMMIT DELETE ROWS
                """
            )
        }
        if !processor.changedEpisodes.isEmpty {
            _ = try await connection.copyFrom(table: "anomaly_episode_deltas", schema: "pg_temp", columns: Self.episodeColumns) { rows in
                for episode in processor.changedEpisodes {
                    rows.beginRow(fieldCount: Self.episodeColumns.count)
                    rows.append(episode.device)
                    rows.append(episode.metric)
                    rows.append(episode.detector.name)
                    rows.append(episode.startTime)
                    rows.append(episode.detectedAt)
                    rows.append(PostgresValue(episode.endTime))
                    rows.append(episode.peakScore)
                    rows.append(PostgresValue(episode.value.finite))
                    rows.append(PostgresValue(episode.expectedLow.finite))
                    rows.append(PostgresValue(episode.expectedHigh.finite))
                    rows.append(episode.severity.description)
                    try await rows.flushIfNeeded()
                }
            }
            try await connection.execute(upsertEpisodes)
        }
        if !processor.openedEpisodes.isEmpty {
            _ = try await connection.copyFrom(table: "anomaly_openings", schema: "pg_temp", columns: ["position", "payload"]) { rows in
                for (position, episode) in processor.openedEpisodes.enumerated() {
                    rows.beginRow(fieldCount: 2)
                    rows.append(Int32(position))
                    rows.append(episode.jsonText)
                    try await rows.flushIfNeeded()
                }
            }
            // Listeners get them in the order the episodes opened.
            _ = try await connection.query(
                "SELECT pg_notify($1, payload) FROM (SELECT payload FROM pg_temp.anomaly_openings ORDER BY position) opened",
                [.text(Self.notificationChannel)]
            )
        }
        // One partition's snapshot at a time: with a large fleet the snapshots of all partitions, and libpq's
        // copy of each, held at once were most of the gateway's peak memory per series.
        for partition in processor.dirtyPartitions.sorted() {
            _ = try await connection.execute(saveSnapshot, [.int64(Int64(partition)), .bytea(processor.snapshot(partition: partition))])
        }
    }

    static let episodeColumns = [
        "device", "metric", "detector", "start_time", "detected_at", "end_time", "peak_score", "value", "expected_low", "expected_high", "severity",
    ]

    var upsertEpisodes: String {
        let columns = Self.episodeColumns.joined(separator: ", ")
        return """
            INSERT INTO \(episodes) (\(columns))
            SELECT \(columns) FROM pg_temp.anomaly_episode_deltas
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
