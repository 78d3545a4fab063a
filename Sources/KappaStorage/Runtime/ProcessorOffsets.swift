public import KappaPostgres
import KappaStream

/// The `processor_offsets` rows of one processor version on one stream: where it resumes, and the fence that
/// keeps two instances of it from both committing the same records.
public struct ProcessorOffsets: Sendable {
    public let schema: PostgresIdentifier
    public let processor: String
    public let version: String
    public let stream: String

    public init(schema: PostgresIdentifier, processor: String, version: String, stream: String) {
        self.schema = schema
        self.processor = processor
        self.version = version
        self.stream = stream
    }

    private var table: String { PostgresIdentifier("processor_offsets").qualified(in: schema) }

    public func load(_ connection: PostgresConnection) async throws -> [Int: Int64] {
        let rows = try await connection.query(
            "SELECT partition, next_offset FROM \(table) WHERE processor = $1 AND output_version = $2 AND stream = $3",
            [.text(processor), .text(version), .text(stream)]
        )
        var offsets: [Int: Int64] = [:]
        for row in rows { offsets[try row[0].int] = try row[1].int64 }
        return offsets
    }

    /// Stores starting offsets; rows another run stored meanwhile win.
    public func store(_ offsets: [Int64], _ connection: PostgresConnection) async throws {
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

    /// Upserts the offsets that moved; a row that another instance moved meanwhile makes the transaction fail,
    /// so two instances of one processor can never both commit the same records.
    func advance(to offsets: [Int64], from previous: [Int64], _ connection: PostgresConnection) async throws {
        var statements: [PostgresStatement] = []
        for (partition, offset) in offsets.enumerated() where offset != previous[partition] {
            statements.append(PostgresStatement(
                """
                INSERT INTO \(table) AS o (processor, output_version, stream, partition, next_offset)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (processor, output_version, stream, partition)
                DO UPDATE SET next_offset = excluded.next_offset, updated_at = now() WHERE o.next_offset = $6
                """,
                [.text(processor), .text(version), .text(stream), .int64(Int64(partition)), .int64(offset), .int64(previous[partition])]
            ))
        }
        let counts = try await connection.executeBatch(statements)
        if let index = counts.firstIndex(where: { $0 != 1 }) {
            throw ProcessorError(code: .concurrentInstance, processor: processor, message: "the offsets of partition \(index) were moved by another instance")
        }
    }
}
