import KappaPostgres
import KappaStream

extension RollupWriter {
    /// Puts the names of `seriesNumbers` in `pg_temp.rollup_series_names` (series, device, metric), emptied first,
    /// for one statement to look them up in the dictionary. The names go by binary COPY like the deltas, so a
    /// name PostgreSQL refuses fails the same way here as there.
    func stageNames(of seriesNumbers: [UInt32], processor: RollupProcessor, connection: PostgresConnection) async throws {
        let names = processor.seriesNames
        // The table lives as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS rollup_series_names (series bigint, device text, metric text) ON COMMIT DELETE ROWS;
            TRUNCATE pg_temp.rollup_series_names
            """
        )
        _ = try await connection.copyFrom(table: "rollup_series_names", schema: "pg_temp", columns: ["series", "device", "metric"]) { rows in
            for series in seriesNumbers {
                let name = names[series]
                rows.beginRow(fieldCount: 3)
                rows.append(Int64(series))
                rows.append(name.device)
                rows.append(name.metric)
                try await rows.flushIfNeeded()
            }
        }
    }
}
