import KappaPostgres
import KappaStream

extension RollupWriter {
    /// Reads the stored watermarks of the series the processor has not resolved yet (new to this process, or
    /// back after leaving memory idle) and hands them over, so the deltas' late counts are final before they
    /// are written. One statement; the names travel as one jsonb parameter.
    func resolveWatermarks(of processor: RollupProcessor, connection: PostgresConnection) async throws {
        let unresolved = processor.unresolvedSeries
        guard !unresolved.isEmpty else { return }
        let names = processor.seriesNames
        var json = "["
        for (position, series) in unresolved.enumerated() {
            let name = names[series]
            json += position == 0 ? "{\"series\":\(series),\"device\":" : ",{\"series\":\(series),\"device\":"
            JSONText.appendString(name.device, to: &json)
            json += ",\"metric\":"
            JSONText.appendString(name.metric, to: &json)
            json += "}"
        }
        json += "]"
        let rows = try await connection.query(
            """
            SELECT l.series, (extract(epoch FROM s.watermark) * 1000000)::bigint
            FROM jsonb_to_recordset($1) AS l(series bigint, device text, metric text)
            JOIN \(series) s ON s.device = l.device AND s.metric = l.metric
            """,
            [.jsonb(json)]
        )
        var stored: [UInt32: Int64] = [:]
        stored.reserveCapacity(rows.count)
        for row in rows {
            stored[UInt32(try row[0].int64)] = try row[1].int64
        }
        processor.resolve(storedWatermarks: stored)
    }
}
