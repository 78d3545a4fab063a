import KappaPostgres
import KappaStream

/// The `rejected_records` table: records whose output PostgreSQL refused, with the error, per processor version.
struct RejectedRecords {
    let offsets: ProcessorOffsets

    /// Stores the rejected records with their errors, keyed so that a checkpoint retried stores them once.
    func store(_ rejected: [RejectedRecord], _ connection: PostgresConnection) async throws {
        guard !rejected.isEmpty else { return }
        let table = PostgresIdentifier("rejected_records").qualified(in: offsets.schema)
        let statements = rejected.map { record in
            PostgresStatement(
                """
                INSERT INTO \(table) (processor, output_version, stream, log_partition, log_offset, sqlstate, error, record)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING
                """,
                [.text(offsets.processor), .text(offsets.version), .text(offsets.stream), .int64(Int64(record.partition)), .int64(record.offset),
                 .text(record.error.storeCode ?? ""), .text(record.error.description), .bytea(record.value)]
            )
        }
        _ = try await connection.executeBatch(statements)
    }
}
