import KappaCore
public import KappaPostgres
public import KappaStream

/// Stores ``DeviceStatusProcessor``'s changes in `device_status_<version>`: one row per device, the newest
/// change replacing the older (checkpoints are written in log order, inside the offsets' transaction).
public struct DeviceStatusWriter: OutputWriter {
    let table: String

    public init(schema: PostgresIdentifier, version: String) {
        table = PostgresIdentifier(ProcessorOutputs.tableName("device_status", version: version)).qualified(in: schema)
    }

    public func write(_ processor: DeviceStatusProcessor, connection: PostgresConnection) async throws {
        // Births and deaths are rare beside readings: a statement per device changed is enough.
        let statements = processor.changes.sorted { $0.key < $1.key }.map { device, change in
            PostgresStatement(
                """
                INSERT INTO \(table) (device, online, changed_at, log_partition, log_offset) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (device) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at,
                    log_partition = excluded.log_partition, log_offset = excluded.log_offset
                """,
                [.text(device), .bool(change.online), .timestamptz(change.changedAt), .int64(Int64(change.partition)), .int64(change.offset)]
            )
        }
        _ = try await connection.executeBatch(statements)
    }
}
