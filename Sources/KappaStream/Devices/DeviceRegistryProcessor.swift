import KappaCore
import KappaLog
import KappaPostgres

/// The registry of devices and their metrics: first and last seen (event time), readings counted once, the
/// last value, and the device's tags (from its newest reading).
///
/// Checkpoints merge the changes since the last one into the stored rows (counts add, first is the least,
/// last the greatest; ties in time go to the later reading in the log), inside the offsets' transaction.
/// Every merge here is exact, so a crashed and resumed run ends identical to an uninterrupted one.
final class DeviceRegistryProcessor: StreamProcessor {
    private struct MetricDelta {
        var firstSeen: Int64
        var lastSeen: Int64
        var readings: Int64
        var lastValue: Double
    }

    private struct DeviceDelta {
        var firstSeen: Int64
        var lastSeen: Int64
        var readings: Int64
        var tags: [Tag]
    }

    private var intake: ReadingIntake
    private var metrics: [UInt32: MetricDelta] = [:]
    private var devices: [String: DeviceDelta] = [:]
    private let devicesTable: String
    private let metricsTable: String
    private let settingsTable: String
    private let offlineAfter: Duration

    init(partitionCount: Int, configuration: ProcessorConfiguration, schema: PostgresIdentifier) {
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: configuration.duplicateWindowRecords)
        devicesTable = PostgresIdentifier("devices_\(configuration.outputVersion)").qualified(in: schema)
        metricsTable = PostgresIdentifier("device_metrics_\(configuration.outputVersion)").qualified(in: schema)
        settingsTable = PostgresIdentifier("settings").qualified(in: schema)
        offlineAfter = configuration.deviceOfflineAfter
    }

    func prepare(connection: PostgresConnection, stream: any LogStream, offsets: [Int64]) async throws {
        let seconds = offlineAfter.seconds
        try await connection.execute(
            "INSERT INTO \(settingsTable) (name, value) VALUES ('device_offline_after_seconds', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [.text("\(seconds)")]
        )
        try await intake.rebuild(stream: stream, resumeOffsets: offsets)
    }

    func apply(_ record: LogRecord, partition: Int) {
        guard let (series, reading) = intake.accept(record, partition: partition) else { return }
        let time = reading.time.microsecondsSinceEpoch
        if metrics[series] != nil {
            metrics[series]!.readings += 1
            metrics[series]!.firstSeen = min(metrics[series]!.firstSeen, time)
            if time >= metrics[series]!.lastSeen {
                metrics[series]!.lastSeen = time
                metrics[series]!.lastValue = reading.value
            }
        } else {
            metrics[series] = MetricDelta(firstSeen: time, lastSeen: time, readings: 1, lastValue: reading.value)
        }
        if var device = devices[reading.device] {
            device.readings += 1
            device.firstSeen = min(device.firstSeen, time)
            if time >= device.lastSeen {
                device.lastSeen = time
                device.tags = reading.tags
            }
            devices[reading.device] = device
        } else {
            devices[reading.device] = DeviceDelta(firstSeen: time, lastSeen: time, readings: 1, tags: reading.tags)
        }
    }

    var hasPendingOutput: Bool { !metrics.isEmpty }

    func write(connection: PostgresConnection) async throws {
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS device_deltas (device text, first_seen timestamptz, last_seen timestamptz, readings bigint, tags jsonb) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS device_metric_deltas (device text, metric text, first_seen timestamptz, last_seen timestamptz, readings bigint, last_value float8) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(table: "device_deltas", schema: "pg_temp", columns: ["device", "first_seen", "last_seen", "readings", "tags"]) { rows in
            for (device, delta) in devices {
                rows.beginRow(fieldCount: 5)
                rows.append(device)
                rows.append(Timestamp(microsecondsSinceEpoch: delta.firstSeen))
                rows.append(Timestamp(microsecondsSinceEpoch: delta.lastSeen))
                rows.append(delta.readings)
                rows.append(jsonb: JSONText.object(delta.tags))
                try await rows.flushIfNeeded()
            }
        }
        let names = intake.series
        _ = try await connection.copyFrom(
            table: "device_metric_deltas", schema: "pg_temp",
            columns: ["device", "metric", "first_seen", "last_seen", "readings", "last_value"]
        ) { rows in
            for (series, delta) in metrics {
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

    func committed() {
        metrics.removeAll(keepingCapacity: true)
        devices.removeAll(keepingCapacity: true)
    }

    var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, undecodable: intake.undecodable)
    }
}
