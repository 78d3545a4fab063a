import KappaCore
import KappaLog
import KappaPostgres

/// Raw readings, duplicates dropped, into `readings_<version>`: a table partitioned by day (UTC).
///
/// Each checkpoint creates the day partitions its readings need (and `archiveDaysAhead` days past today),
/// copies the rows into a staging table with binary COPY and inserts them with `ON CONFLICT DO NOTHING`
/// (the key is device, metric, time, value: a reading is stored once however often it came). Partitions
/// whose day ended more than the retention ago are dropped; readings older than that are not archived.
final class ArchiveProcessor: StreamProcessor {
    private struct Row {
        var device: String
        var metric: String
        var time: Int64
        var value: Double
        var timeSource: Int16
        var tags: String?
    }

    private static let dayMicroseconds: Int64 = 86_400_000_000

    private var intake: ReadingIntake
    private var rows: [Row] = []
    private var days: Set<Int64> = []
    private var knownPartitions: Set<Int64> = []
    private var lastRetentionCheck: ContinuousClock.Instant?
    private var expired: Int64 = 0
    private let schema: PostgresIdentifier
    private let tableName: String
    private let retention: Duration?
    private let daysAhead: Int

    init(partitionCount: Int, configuration: ProcessorConfiguration, schema: PostgresIdentifier) {
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: configuration.duplicateWindowRecords)
        self.schema = schema
        tableName = "readings_\(configuration.outputVersion)"
        retention = configuration.archiveRetention
        daysAhead = configuration.archiveDaysAhead
    }

    private var table: String { PostgresIdentifier(tableName).qualified(in: schema) }

    private var retentionCutoff: Int64? {
        retention.map { Timestamp.now().microsecondsSinceEpoch - $0.components.seconds * 1_000_000 }
    }

    func prepare(connection: PostgresConnection, stream: any LogStream, offsets: [Int64]) async throws {
        knownPartitions = try await existingPartitions(connection)
        try await intake.rebuild(stream: stream, resumeOffsets: offsets)
    }

    func apply(_ record: LogRecord, partition: Int) {
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

    var hasPendingOutput: Bool { !rows.isEmpty || lastRetentionCheck == nil }

    func write(connection: PostgresConnection) async throws {
        try await maintainPartitions(connection)
        guard !rows.isEmpty else { return }
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS archive_staging (
                device text, metric text, time timestamptz, value float8, time_source smallint, tags jsonb
            ) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(
            table: "archive_staging", schema: "pg_temp", columns: ["device", "metric", "time", "value", "time_source", "tags"]
        ) { writer in
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
        try await connection.execute(
            """
            INSERT INTO \(table) (device, metric, time, value, time_source, tags)
            SELECT device, metric, time, value, time_source, tags FROM pg_temp.archive_staging
            ON CONFLICT DO NOTHING
            """
        )
    }

    func committed() {
        rows.removeAll(keepingCapacity: true)
        knownPartitions.formUnion(days)
        days.removeAll(keepingCapacity: true)
    }

    var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, undecodable: intake.undecodable)
    }

    // MARK: Partitions

    /// Creates missing day partitions (those of pending rows and the days ahead) and, at most hourly, drops
    /// the expired ones. Runs in the checkpoint transaction: if it rolls back, so do the partitions.
    private func maintainPartitions(_ connection: PostgresConnection) async throws {
        let today = RollupProcessor.floor(Timestamp.now().microsecondsSinceEpoch, Self.dayMicroseconds)
        var needed = days
        for ahead in 0...max(0, daysAhead) { needed.insert(today + Int64(ahead) * Self.dayMicroseconds) }
        for day in needed.subtracting(knownPartitions).sorted() {
            let from = Timestamp(microsecondsSinceEpoch: day)
            let to = Timestamp(microsecondsSinceEpoch: day + Self.dayMicroseconds)
            try await connection.execute(
                "CREATE TABLE IF NOT EXISTS \(partitionName(day)) PARTITION OF \(table) FOR VALUES FROM ('\(from)') TO ('\(to)')"
            )
            days.insert(day)
        }
        let clock = ContinuousClock()
        if let last = lastRetentionCheck, clock.now - last < .seconds(3600) { return }
        lastRetentionCheck = clock.now
        guard let cutoff = retentionCutoff else { return }
        for day in try await existingPartitions(connection) where day + Self.dayMicroseconds <= cutoff {
            try await connection.execute("DROP TABLE IF EXISTS \(partitionName(day))")
            knownPartitions.remove(day)
        }
    }

    private func partitionName(_ day: Int64) -> String {
        let civil = CivilTime(Timestamp(microsecondsSinceEpoch: day))
        func digits(_ number: Int, _ width: Int) -> String {
            let text = String(number)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let name = "\(tableName)_p\(digits(civil.year, 4))\(digits(civil.month, 2))\(digits(civil.day, 2))"
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
