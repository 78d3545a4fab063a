import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream

/// Writes ``RollupProcessor``'s deltas into `rollups_<version>` and `rollup_series_<version>`: binary COPY into
/// session-scoped staging tables, then one merge statement each (Chan's formula, in SQL).
public struct RollupWriter: OutputWriter {
    let cells: String
    let series: String

    static let deltaColumns = [
        "device", "metric", "width_seconds", "bucket", "count", "sum", "min", "max", "mean", "m2",
        "first_value", "first_time", "last_value", "last_time", "late",
    ]

    public init(schema: PostgresIdentifier, version: String) {
        cells = PostgresIdentifier(ProcessorOutputs.tableName("rollups", version: version)).qualified(in: schema)
        series = PostgresIdentifier(ProcessorOutputs.tableName("rollup_series", version: version)).qualified(in: schema)
    }

    public func load(into processor: RollupProcessor, stream: any LogStream, connection: PostgresConnection) async throws {
        let rows = try await connection.query("SELECT device, metric, (extract(epoch FROM watermark) * 1000000)::bigint FROM \(series)")
        var watermarks: [SeriesName: Int64] = [:]
        for row in rows {
            watermarks[SeriesName(device: try row[0].string, metric: try row[1].string)] = try row[2].int64
        }
        processor.restore(watermarks: watermarks)
    }

    public func write(_ processor: RollupProcessor, connection: PostgresConnection) async throws {
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS rollup_deltas (
                device text, metric text, width_seconds integer, bucket timestamptz, count bigint, sum float8,
                min float8, max float8, mean float8, m2 float8, first_value float8, first_time timestamptz,
                last_value float8, last_time timestamptz, late bigint
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS rollup_series_deltas (device text, metric text, watermark timestamptz) ON COMMIT DELETE ROWS
            """
        )
        let widthSeconds = processor.widths.map { Int32($0) }
        let names = processor.seriesNames
        _ = try await connection.copyFrom(table: "rollup_deltas", schema: "pg_temp", columns: Self.deltaColumns) { rows in
            for (key, cell) in processor.cells {
                let name = names[key.series]
                rows.beginRow(fieldCount: 15)
                rows.append(name.device)
                rows.append(name.metric)
                rows.append(widthSeconds[Int(key.width)])
                rows.append(Timestamp(microsecondsSinceEpoch: key.bucket))
                rows.append(cell.count)
                rows.append(cell.sum)
                rows.append(cell.min)
                rows.append(cell.max)
                rows.append(cell.mean)
                rows.append(cell.m2)
                rows.append(cell.firstValue)
                rows.append(Timestamp(microsecondsSinceEpoch: cell.firstTime))
                rows.append(cell.lastValue)
                rows.append(Timestamp(microsecondsSinceEpoch: cell.lastTime))
                rows.append(cell.late)
                try await rows.flushIfNeeded()
            }
        }
        try await connection.execute(self.mergeCells)
        guard !processor.dirtySeries.isEmpty else { return }
        _ = try await connection.copyFrom(table: "rollup_series_deltas", schema: "pg_temp", columns: ["device", "metric", "watermark"]) { rows in
            for series in processor.dirtySeries {
                let name = names[series]
                rows.beginRow(fieldCount: 3)
                rows.append(name.device)
                rows.append(name.metric)
                rows.append(Timestamp(microsecondsSinceEpoch: processor.watermark(ofSeries: series)))
                try await rows.flushIfNeeded()
            }
        }
        try await connection.execute(self.mergeSeries)
    }

    /// Chan's merge of a delta `e` into the stored row `t`, in SQL; first and last keep log order on ties.
    var mergeCells: String {
        let columns = Self.deltaColumns.joined(separator: ", ")
        return """
            INSERT INTO \(cells) AS t (\(columns))
            SELECT \(columns) FROM pg_temp.rollup_deltas
            ON CONFLICT (device, metric, width_seconds, bucket) DO UPDATE SET
                count = t.count + excluded.count,
                sum = t.sum + excluded.sum,
                min = least(t.min, excluded.min),
                max = greatest(t.max, excluded.max),
                mean = t.mean + (excluded.mean - t.mean) * excluded.count::float8 / (t.count + excluded.count)::float8,
                m2 = t.m2 + excluded.m2 + (excluded.mean - t.mean) * (excluded.mean - t.mean)
                     * t.count::float8 * excluded.count::float8 / (t.count + excluded.count)::float8,
                first_value = CASE WHEN excluded.first_time < t.first_time THEN excluded.first_value ELSE t.first_value END,
                first_time = least(t.first_time, excluded.first_time),
                last_value = CASE WHEN excluded.last_time >= t.last_time THEN excluded.last_value ELSE t.last_value END,
                last_time = greatest(t.last_time, excluded.last_time),
                late = t.late + excluded.late,
                updated_at = now()
            """
    }

    var mergeSeries: String {
        """
        INSERT INTO \(series) AS t (device, metric, watermark)
        SELECT device, metric, watermark FROM pg_temp.rollup_series_deltas
        ON CONFLICT (device, metric) DO UPDATE SET watermark = greatest(t.watermark, excluded.watermark)
        """
    }
}
