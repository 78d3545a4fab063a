import KappaCore
public import KappaPostgres
public import KappaStream

/// Copies ``DeadLetterProcessor``'s dead letters into `dead_letters_<version>`, keyed by log position (and the
/// receive time, which partitions the table by UTC day). Each checkpoint creates the days it needs and three
/// ahead, and at most hourly drops the days that ended before the retention; a dead letter already past it
/// is not written.
public struct DeadLetterWriter: OutputWriter {
    let table: String
    let days: DayPartitions

    /// - Parameter retention: how long dead letters are kept; nil keeps them all.
    public init(schema: PostgresIdentifier, version: String, retention: Duration? = nil) {
        let base = ProcessorOutputs.tableName("dead_letters", version: version)
        table = PostgresIdentifier(base).qualified(in: schema)
        days = DayPartitions(schema: schema, baseName: base, retention: retention)
    }

    public func write(_ processor: DeadLetterProcessor, connection: PostgresConnection) async throws {
        let now = Timestamp.now().microsecondsSinceEpoch
        let cutoff = days.cutoff(now: now)
        let kept = processor.rows.filter { row in cutoff.map { row.deadLetter.receivedAt.microsecondsSinceEpoch >= $0 } ?? true }
        try await days.ensure(Set(kept.map { DayPartitions.day(of: $0.deadLetter.receivedAt.microsecondsSinceEpoch) }), now: now, connection: connection)
        try await days.applyRetention(now: now, connection: connection)
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS dead_letter_staging (
                log_partition integer, log_offset bigint, received_at timestamptz, topic text, payload bytea, reason text, message text,
                payload_size bigint, payload_sha256 bytea
            ) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(
            table: "dead_letter_staging", schema: "pg_temp",
            columns: ["log_partition", "log_offset", "received_at", "topic", "payload", "reason", "message", "payload_size", "payload_sha256"]
        ) { writer in
            for row in kept {
                writer.beginRow(fieldCount: 9)
                writer.append(row.partition)
                writer.append(row.offset)
                writer.append(row.deadLetter.receivedAt)
                writer.append(row.deadLetter.topic)
                writer.append(bytes: row.deadLetter.payload)
                writer.append(row.deadLetter.reason.rawValue)
                writer.append(row.deadLetter.message)
                writer.append(Int64(row.deadLetter.payloadSize))
                if row.deadLetter.payloadSHA256.isEmpty { writer.appendNull() } else { writer.append(bytes: row.deadLetter.payloadSHA256) }
                try await writer.flushIfNeeded()
            }
        }
        try await connection.execute(
            """
            INSERT INTO \(table) (log_partition, log_offset, received_at, topic, payload, reason, message, payload_size, payload_sha256)
            SELECT log_partition, log_offset, received_at, topic, payload, reason, message, payload_size, payload_sha256
            FROM pg_temp.dead_letter_staging
            ON CONFLICT DO NOTHING
            """
        )
    }
}
