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
        // A fleet restarting announces every device at once: COPY into staging and one set-based upsert, as the
        // registry's writer does, rather than a statement per device.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS device_status_deltas (device text, online boolean, changed_at timestamptz, log_partition integer, log_offset bigint) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(
            table: "device_status_deltas", schema: "pg_temp", columns: ["device", "online", "changed_at", "log_partition", "log_offset"]
        ) { rows in
            for (device, change) in processor.changes {
                rows.beginRow(fieldCount: 5)
                rows.append(device)
                rows.append(change.online)
                rows.append(change.changedAt)
                rows.append(change.partition)
                rows.append(change.offset)
                try await rows.flushIfNeeded()
            }
        }
        try await connection.execute(
            """
            INSERT INTO \(table) (device, online, changed_at, log_partition, log_offset)
            SELECT device, online, changed_at, log_partition, log_offset FROM pg_temp.device_status_deltas
            ON CONFLICT (device) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at,
                log_partition = excluded.log_partition, log_offset = excluded.log_offset
            """
        )
    }
}
