import KappaPostgres
import KappaStream

extension RollupWriter {
    /// Reads the stored watermarks of the series the processor has not resolved yet (new to this process, or
    /// back after leaving memory idle) and hands them over, so the deltas' late counts are final before they
    /// are written: their names staged (``stageNames(of:processor:connection:)``), then one join.
    func resolveWatermarks(of processor: RollupProcessor, connection: PostgresConnection) async throws {
        let unresolved = processor.unresolvedSeries
        guard !unresolved.isEmpty else { return }
        try await stageNames(of: unresolved, processor: processor, connection: connection)
        let rows = try await connection.query(
            """
            SELECT l.series, (extract(epoch FROM s.watermark) * 1000000)::bigint
            FROM pg_temp.rollup_series_names l JOIN \(series) s ON s.device = l.device AND s.metric = l.metric
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
