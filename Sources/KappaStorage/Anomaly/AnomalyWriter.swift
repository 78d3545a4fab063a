import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream

/// Writes ``AnomalyProcessor``'s changed episodes into `anomalies_<version>` (upserts keyed by device, metric,
/// detector and start time, so a re-run writes the same rows), announces each new episode with
/// `pg_notify('kappa_anomalies', json)`, and saves the engines' state: per changed partition its header in
/// `anomaly_state_<version>`, and the chunks of the devices that changed in `anomaly_device_state_<version>`,
/// so a checkpoint's cost follows what changed rather than the whole fleet.
public struct AnomalyWriter: OutputWriter {
    public static let notificationChannel = "kappa_anomalies"

    let episodes: String
    let state: String
    let deviceState: String

    public init(schema: PostgresIdentifier, version: String) {
        episodes = PostgresIdentifier(ProcessorOutputs.tableName("anomalies", version: version)).qualified(in: schema)
        state = PostgresIdentifier(ProcessorOutputs.tableName("anomaly_state", version: version)).qualified(in: schema)
        deviceState = PostgresIdentifier(ProcessorOutputs.tableName("anomaly_device_state", version: version)).qualified(in: schema)
    }

    public func load(into processor: AnomalyProcessor, stream: any LogStream, connection: PostgresConnection) async throws {
        // One snapshot of the database for headers and chunks alike: they must be of the same checkpoint.
        try await connection.withTransaction(.repeatableRead) { connection in
            let rows = try await connection.query("SELECT partition, snapshot FROM \(state) ORDER BY partition")
            for row in rows {
                let partition = try row[0].int, bytes = try row[1].bytes
                guard AnomalyEngine.isStateHeader(bytes) else {
                    // Saved whole by a build before incremental state: restored whole, then saved in chunks.
                    try processor.restore(partition: partition, snapshot: bytes, partitionCount: stream.partitionCount)
                    continue
                }
                let chunks = try await connection.query(
                    "SELECT state FROM \(deviceState) WHERE partition = $1 ORDER BY device_slot", [.int64(Int64(partition))]
                )
                try processor.restore(
                    partition: partition, header: bytes, deviceChunks: try chunks.map { try $0[0].bytes }, partitionCount: stream.partitionCount
                )
            }
        }
    }

    /// The stored chunks of the evicted devices the batch touches, in one query: they are the devices' state as
    /// it left memory (a device leaves only right after the checkpoint that stored it).
    public func prepare(_ processor: AnomalyProcessor, batch: [(partition: Int, records: [LogRecord])], connection: PostgresConnection) async throws {
        let wanted = processor.devicesToReload(batch)
        guard !wanted.isEmpty else { return }
        let pairs = wanted.flatMap { partition, devices in devices.map { (partition, $0) } }
        let rows = try await connection.query(
            """
            SELECT s.partition, s.device_slot, s.state FROM \(deviceState) s
            JOIN unnest($1::int[], $2::int[]) AS wanted(partition, device_slot) USING (partition, device_slot)
            """,
            [.text("{" + pairs.map { "\($0.0)" }.joined(separator: ",") + "}"), .text("{" + pairs.map { "\($0.1)" }.joined(separator: ",") + "}")]
        )
        for row in rows {
            try processor.reload(partition: try row[0].int, device: Int32(try row[1].int), chunk: try row[2].bytes)
        }
        guard rows.count == pairs.count else {
            throw ProcessorError(
                code: .corruptState, processor: "anomalies",
                message: "\(pairs.count - rows.count) evicted devices have no stored state to come back from"
            )
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
        try await saveState(processor, connection: connection)
    }

    /// Each changed partition's header, and its changed devices' chunks through COPY into staging and one
    /// set-based upsert. The chunks are encoded one at a time as the COPY streams them, so a fleet's worth is
    /// never held at once.
    private func saveState(_ processor: AnomalyProcessor, connection: PostgresConnection) async throws {
        let partitions = processor.dirtyPartitions.sorted()
        for partition in partitions {
            _ = try await connection.execute(saveHeader, [.int64(Int64(partition)), .bytea(processor.stateHeader(partition: partition))])
        }
        let changed = partitions.map { (partition: $0, chunks: processor.changedDeviceChunks(partition: $0)) }.filter { $0.chunks.count > 0 }
        guard !changed.isEmpty else { return }
        // Stored like the table's column (uncompressed): the chunks barely compress.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS anomaly_device_state_changes (LIKE \(deviceState) INCLUDING STORAGE) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(table: "anomaly_device_state_changes", schema: "pg_temp", columns: ["partition", "device_slot", "state"]) { rows in
            for (partition, chunks) in changed {
                for position in 0..<chunks.count {
                    rows.beginRow(fieldCount: 3)
                    rows.append(Int32(partition))
                    rows.append(chunks.devices[position])
                    rows.append(bytes: processor.deviceChunk(position, of: chunks, partition: partition))
                    try await rows.flushIfNeeded()
                }
            }
        }
        try await connection.execute(upsertDeviceStates)
        // A partition saved whole (after restoring a snapshot of an older build) drops chunks of devices past its
        // count, which only a state from elsewhere could have left.
        for (partition, chunks) in changed where chunks.count == chunks.deviceCount {
            _ = try await connection.execute(
                "DELETE FROM \(deviceState) WHERE partition = $1 AND device_slot >= $2", [.int64(Int64(partition)), .int64(Int64(chunks.deviceCount))]
            )
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

    var upsertDeviceStates: String {
        """
        INSERT INTO \(deviceState) (partition, device_slot, state)
        SELECT partition, device_slot, state FROM pg_temp.anomaly_device_state_changes
        ON CONFLICT (partition, device_slot) DO UPDATE SET state = excluded.state
        """
    }

    var saveHeader: String {
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
