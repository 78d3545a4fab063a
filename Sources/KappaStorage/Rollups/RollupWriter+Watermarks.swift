import KappaPostgres
import KappaStream

extension RollupWriter {
    /// Reads the stored watermarks of the series the processor has not resolved yet (new to this process, or
    /// back after leaving memory idle) and hands them over, so the deltas' late counts are final before they
    /// are written. The names go by binary COPY like the deltas (a name PostgreSQL refuses fails the same way
    /// here as there), then one join.
    func resolveWatermarks(of processor: RollupProcessor, connection: PostgresConnection) async throws {
        let unresolved = processor.unresolvedSeries
        guard !unresolved.isEmpty else { return }
        let names = processor.seriesNames
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS rollup_series_lookup (series bigint, device text, metric text) ON COMMIT DELETE ROWS
            """
        )
        _ = try await connection.copyFrom(table: "rollup_series_lookup", schema: "pg_temp", columns: ["series", "device", "metric"]) { rows in
            for series in unresolved {
                let name = names[series]
                rows.beginRow(fieldCount: 3)
                rows.append(Int64(series))
                rows.append(name.device)
                rows.append(name.metric)
                try await rows.flushIfNeeded()
            }
        }
        let rows = try await connection.query(
            """
            SELECT l.series, (extract(epoch FROM s.watermark) * 1000000)::bigint
            FROM pg_temp.rollup_series_lookup l JOIN \(series) s ON s.device = l.device AND s.metric = l.metric
            """
        )
        var stored: [UInt32: Int64] = [:]
        stored.reserveCapacity(rows.count)
        for row in rows {
            stored[UInt32(try row[0].int64)] = try row[1].int64
        }
        processor.resolve(storedWatermarks: stored)
    }
}
