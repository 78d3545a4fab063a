import KappaPostgres
import KappaStorage
import KappaStream

/// Merges ``ExtremesProcessor``'s pending extremes into `device_extremes_<version>`.
struct ExtremesWriter: OutputWriter {
    let table: String

    init(schema: PostgresIdentifier, version: String) {
        table = PostgresIdentifier(ProcessorOutputs.tableName("device_extremes", version: version)).qualified(in: schema)
    }

    func write(_ processor: ExtremesProcessor, connection: PostgresConnection) async throws {
        _ = try await connection.executeBatch(processor.pending.map { device, extremes in
            PostgresStatement(
                """
                INSERT INTO \(table) AS t (device, low, high) VALUES ($1, $2, $3)
                ON CONFLICT (device) DO UPDATE SET low = least(t.low, excluded.low), high = greatest(t.high, excluded.high)
                """,
                [.text(device), .double(extremes.low), .double(extremes.high)]
            )
        })
    }
}
