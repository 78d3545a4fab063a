import KappaPostgres

/// The `processor_offsets` rows of one processor version on one stream.
struct ReplayOffsets: Sendable {
    let schema: PostgresIdentifier
    let processor: String
    let version: String
    let stream: String

    private var table: String { PostgresIdentifier("processor_offsets").qualified(in: schema) }

    func load(_ connection: PostgresConnection) async throws -> [Int: Int64] {
        let rows = try await connection.query(
            "SELECT partition, next_offset FROM \(table) WHERE processor = $1 AND output_version = $2 AND stream = $3",
            [.text(processor), .text(version), .text(stream)]
        )
        var offsets: [Int: Int64] = [:]
        for row in rows { offsets[try row[0].int] = try row[1].int64 }
        return offsets
    }

    /// Stores starting offsets; rows another run stored meanwhile win.
    func store(_ offsets: [Int64], _ connection: PostgresConnection) async throws {
        _ = try await connection.executeBatch(offsets.enumerated().map { partition, offset in
            PostgresStatement(
                """
                INSERT INTO \(table) (processor, output_version, stream, partition, next_offset) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (processor, output_version, stream, partition) DO NOTHING
                """,
                [.text(processor), .text(version), .text(stream), .int64(Int64(partition)), .int64(offset)]
            )
        })
    }
}
