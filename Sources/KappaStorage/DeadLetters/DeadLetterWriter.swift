import KappaCore
public import KappaPostgres
public import KappaStream

/// Copies ``DeadLetterProcessor``'s dead letters into `dead_letters_<version>`, keyed by log position.
public struct DeadLetterWriter: OutputWriter {
    let table: String

    public init(schema: PostgresIdentifier, version: String) {
        table = PostgresIdentifier(ProcessorOutputs.tableName("dead_letters", version: version)).qualified(in: schema)
    }

    public func write(_ processor: DeadLetterProcessor, connection: PostgresConnection) async throws {
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
            for row in processor.rows {
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
