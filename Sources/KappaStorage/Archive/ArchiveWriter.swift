import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream

/// Writes ``ArchiveProcessor``'s rows into `readings_<version>`, a table partitioned by day (UTC).
///
/// Each checkpoint creates the day partitions its readings need (and `daysAhead` days past today) and copies the
/// rows straight into the table with binary COPY. The key is device, metric, time, value: a reading is stored
/// once however often it came. When one is already stored (a redelivery older than the duplicate window, an
/// import overlapping the archive) that COPY fails with a unique violation; it is rolled back to a savepoint and
/// the rows go through a staging table and `ON CONFLICT DO NOTHING` instead. Partitions whose day ended more
/// than the retention ago are dropped.
public struct ArchiveWriter: OutputWriter {
    let schema: PostgresIdentifier
    let baseName: String

    public init(schema: PostgresIdentifier, version: String) {
        self.schema = schema
        baseName = ProcessorOutputs.tableName("readings", version: version)
    }

    private var table: String { PostgresIdentifier(baseName).qualified(in: schema) }

    public func load(into processor: ArchiveProcessor, stream: any LogStream, connection: PostgresConnection) async throws {
        processor.knownPartitions = try await existingPartitions(connection)
    }

    public func write(_ processor: ArchiveProcessor, connection: PostgresConnection) async throws {
        try await maintainPartitions(processor, connection)
        guard !processor.rows.isEmpty else { return }
        // One COPY into the table is one pass over the rows; staging them and inserting with ON CONFLICT is two,
        // plus a speculative insertion per row. Conflicts are the exception, so they take the slow path.
        try await connection.execute("SAVEPOINT archive_copy")
        do {
            _ = try await copy(processor.rows, into: baseName, schema: schema.name, connection: connection)
            try await connection.execute("RELEASE SAVEPOINT archive_copy")
            return
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            try await connection.execute("ROLLBACK TO SAVEPOINT archive_copy")
        }
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS archive_staging (
                device text, metric text, time timestamptz, value float8, time_source smallint, tags jsonb
            ) ON COMMIT DELETE ROWS
            """
        )
        _ = try await copy(processor.rows, into: "archive_staging", schema: "pg_temp", connection: connection)
        try await connection.execute(
            """
            INSERT INTO \(table) (device, metric, time, value, time_source, tags)
            SELECT device, metric, time, value, time_source, tags FROM pg_temp.archive_staging
            ON CONFLICT DO NOTHING
            """
        )
    }

    private func copy(_ rows: [ArchiveProcessor.Row], into table: String, schema: String, connection: PostgresConnection) async throws -> Int {
        try await connection.copyFrom(table: table, schema: schema, columns: ["device", "metric", "time", "value", "time_source", "tags"]) { writer in
            for row in rows {
                writer.beginRow(fieldCount: 6)
                writer.append(row.device)
                writer.append(row.metric)
                writer.append(Timestamp(microsecondsSinceEpoch: row.time))
                writer.append(row.value)
                writer.encoder.append(row.timeSource)
                if let tags = row.tags { writer.append(jsonb: tags) } else { writer.appendNull() }
                try await writer.flushIfNeeded()
            }
        }
    }

    /// Creates missing day partitions (those of pending rows and the days ahead) and, at most hourly, drops
    /// the expired ones. Runs in the checkpoint transaction: if it rolls back, so do the partitions.
    private func maintainPartitions(_ processor: ArchiveProcessor, _ connection: PostgresConnection) async throws {
        let today = RollupProcessor.floor(Timestamp.now().microsecondsSinceEpoch, ArchiveProcessor.dayMicroseconds)
        var needed = processor.days
        for ahead in 0...max(0, processor.settings.daysAhead) { needed.insert(today + Int64(ahead) * ArchiveProcessor.dayMicroseconds) }
        for day in needed.subtracting(processor.knownPartitions).sorted() {
            let from = Timestamp(microsecondsSinceEpoch: day)
            let to = Timestamp(microsecondsSinceEpoch: day + ArchiveProcessor.dayMicroseconds)
            try await connection.execute(
                "CREATE TABLE IF NOT EXISTS \(partitionName(day)) PARTITION OF \(table) FOR VALUES FROM ('\(from)') TO ('\(to)')"
            )
            processor.days.insert(day)
        }
        let clock = ContinuousClock()
        if let last = processor.lastRetentionCheck, clock.now - last < .seconds(3600) { return }
        processor.lastRetentionCheck = clock.now
        guard let cutoff = processor.retentionCutoff else { return }
        for day in try await existingPartitions(connection) where day + ArchiveProcessor.dayMicroseconds <= cutoff {
            try await connection.execute("DROP TABLE IF EXISTS \(partitionName(day))")
            processor.knownPartitions.remove(day)
        }
    }

    private func partitionName(_ day: Int64) -> String {
        let civil = CivilTime(Timestamp(microsecondsSinceEpoch: day))
        func digits(_ number: Int, _ width: Int) -> String {
            let text = String(number)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let name = "\(baseName)_p\(digits(civil.year, 4))\(digits(civil.month, 2))\(digits(civil.day, 2))"
        return PostgresIdentifier(name).qualified(in: schema)
    }

    /// The days of the partitions that exist, from their bounds.
    private func existingPartitions(_ connection: PostgresConnection) async throws -> Set<Int64> {
        let rows = try await connection.query(
            """
            SELECT (extract(epoch FROM substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \\(''([^'']+)''\\)')::timestamptz) * 1000000)::bigint
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass($1)
            """,
            [.text(table)]
        )
        var days: Set<Int64> = []
        for row in rows where !row[0].isNull { days.insert(try row[0].int64) }
        return days
    }
}
