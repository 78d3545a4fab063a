import KappaCore
import KappaLog
import KappaPostgres

/// Copies the dead-letter stream into `dead_letters_<version>`, keyed by log position so a record is stored
/// once however often it is read.
final class DeadLetterProcessor: StreamProcessor {
    private struct Row {
        var partition: Int32
        var offset: Int64
        var deadLetter: DeadLetter
    }

    private var rows: [Row] = []
    private var undecodable: Int64 = 0
    private let table: String

    init(configuration: ProcessorConfiguration, schema: PostgresIdentifier) {
        table = PostgresIdentifier("dead_letters_\(configuration.outputVersion)").qualified(in: schema)
    }

    func prepare(connection: PostgresConnection, stream: any LogStream, offsets: [Int64]) async throws {}

    func apply(_ record: LogRecord, partition: Int) {
        let decoded = record.value.withUnsafeBytes { bytes in
            Result { () throws(RecordDecodingError) -> DeadLetter in try DeadLetterRecord.decode(bytes) }
        }
        switch decoded {
        case .success(let deadLetter):
            rows.append(Row(partition: Int32(partition), offset: record.offset, deadLetter: deadLetter))
        case .failure:
            undecodable += 1
        }
    }

    var hasPendingOutput: Bool { !rows.isEmpty }

    func write(connection: PostgresConnection) async throws {
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
            for row in rows {
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

    func committed() {
        rows.removeAll(keepingCapacity: true)
    }

    var counters: ProcessorCounters { ProcessorCounters(undecodable: undecodable) }
}
