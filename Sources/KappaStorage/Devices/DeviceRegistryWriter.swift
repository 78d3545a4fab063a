import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream

/// Merges ``DeviceRegistryProcessor``'s changes into `devices_<version>` and `device_metrics_<version>`, and
/// records the offline threshold in `settings` for the `devices` view.
public struct DeviceRegistryWriter: OutputWriter {
    let devicesTable: String
    let metricsTable: String
    let settingsTable: String

    public init(schema: PostgresIdentifier, version: String) {
        devicesTable = PostgresIdentifier(ProcessorOutputs.tableName("devices", version: version)).qualified(in: schema)
        metricsTable = PostgresIdentifier(ProcessorOutputs.tableName("device_metrics", version: version)).qualified(in: schema)
        settingsTable = PostgresIdentifier("settings").qualified(in: schema)
    }

    public func load(into processor: DeviceRegistryProcessor, stream: any LogStream, connection: PostgresConnection) async throws {
        let seconds = processor.settings.offlineAfter.seconds
        try await connection.execute(
            "INSERT INTO \(settingsTable) (name, value) VALUES ('device_offline_after_seconds', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [.text("\(seconds)")]
        )
        // One row per series, rewritten at every checkpoint the series has readings in. (Not `devices`: its
        // last_seen index changes with every update, which no free space makes HOT.)
        try await TableFillfactor.ensure(50, of: metricsTable, connection: connection)
    }

    public func write(_ processor: DeviceRegistryProcessor, connection: PostgresConnection) async throws {
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS device_deltas (device text, first_seen timestamptz, last_seen timestamptz, readings bigint, tags jsonb) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS device_metric_deltas (device text, metric text, first_seen timestamptz, last_seen timestamptz, readings bigint, last_value float8) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(table: "device_deltas", schema: "pg_temp", columns: ["device", "first_seen", "last_seen", "readings", "tags"]) { rows in
            for (device, delta) in processor.devices {
                rows.beginRow(fieldCount: 5)
                rows.append(device)
                rows.append(Timestamp(microsecondsSinceEpoch: delta.firstSeen))
                rows.append(Timestamp(microsecondsSinceEpoch: delta.lastSeen))
                rows.append(delta.readings)
                rows.append(jsonb: JSONText.object(delta.tags))
                try await rows.flushIfNeeded()
            }
        }
        let names = processor.seriesNames
        _ = try await connection.copyFrom(
            table: "device_metric_deltas", schema: "pg_temp",
            columns: ["device", "metric", "first_seen", "last_seen", "readings", "last_value"]
        ) { rows in
            for (series, delta) in processor.metrics {
                let name = names[series]
                rows.beginRow(fieldCount: 6)
                rows.append(name.device)
                rows.append(name.metric)
                rows.append(Timestamp(microsecondsSinceEpoch: delta.firstSeen))
                rows.append(Timestamp(microsecondsSinceEpoch: delta.lastSeen))
                rows.append(delta.readings)
                rows.append(delta.lastValue)
                try await rows.flushIfNeeded()
            }
        }
        _ = try await connection.executeBatch([
            PostgresStatement(
                """
                INSERT INTO \(devicesTable) AS t (device, first_seen, last_seen, readings, tags)
                SELECT device, first_seen, last_seen, readings, tags FROM pg_temp.device_deltas
                ON CONFLICT (device) DO UPDATE SET
                    first_seen = least(t.first_seen, excluded.first_seen),
                    tags = CASE WHEN excluded.last_seen >= t.last_seen THEN excluded.tags ELSE t.tags END,
                    last_seen = greatest(t.last_seen, excluded.last_seen),
                    readings = t.readings + excluded.readings
                """
            ),
            PostgresStatement(
                """
                INSERT INTO \(metricsTable) AS t (device, metric, first_seen, last_seen, readings, last_value)
                SELECT device, metric, first_seen, last_seen, readings, last_value FROM pg_temp.device_metric_deltas
                ON CONFLICT (device, metric) DO UPDATE SET
                    first_seen = least(t.first_seen, excluded.first_seen),
                    last_value = CASE WHEN excluded.last_seen >= t.last_seen THEN excluded.last_value ELSE t.last_value END,
                    last_seen = greatest(t.last_seen, excluded.last_seen),
                    readings = t.readings + excluded.readings
                """
            ),
        ])
    }
}
