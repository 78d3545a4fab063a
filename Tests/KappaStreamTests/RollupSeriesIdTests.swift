import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// Rollup rows are staged by series id, learned once per series from the dictionary: an id is only used once
/// the transaction that learned it committed, and a processor that starts again learns the same ids.
@Suite struct RollupSeriesIdTests {
    /// The rows of every width per series, and the rows whose series id the dictionary does not have.
    static func stored(_ connection: PostgresConnection) async throws -> (counts: [[String]], orphans: Int) {
        let counts = try await rowsAsText(connection, """
            SELECT device, metric, width_seconds::text AS width, sum(count)::text FROM kappa.rollups
            GROUP BY device, metric, width_seconds ORDER BY device, metric, width_seconds
            """)
        let orphans = try await connection.query(
            "SELECT count(*) FROM kappa.rollups_v1 r WHERE NOT EXISTS (SELECT 1 FROM kappa.series s WHERE s.id = r.series_id)"
        )
        return (counts, Int(try orphans[0][0].int64))
    }

    /// Per (device, metric), a row per width with the number of readings.
    static func expectedCounts(_ readings: [Reading], widths: [Int64]) -> [[String]] {
        var counts: [SeriesName: Int] = [:]
        for reading in readings { counts[SeriesName(device: reading.device, metric: reading.metric), default: 0] += 1 }
        return counts.sorted { ($0.key.device, $0.key.metric) < ($1.key.device, $1.key.metric) }.flatMap { name, count in
            widths.sorted().map { [name.device, name.metric, String($0), String(count)] }
        }
    }

    @Test(.timeLimit(.minutes(2))) func aRetriedCheckpointAndARestartedProcessorUseOnlyCommittedIds() async throws {
        let database = try await migratedDatabase("rollupids")
        let connection = try await database.connect()
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        let widths: [Int64] = [60, 3600, 86_400]
        let writer = RollupWriter(schema: PostgresIdentifier("kappa"), version: "v1")
        let start = (Timestamp.now().microsecondsSinceEpoch / 3_600_000_000 - 3) * 3_600_000_000
        let first = RollupSketchMergeTests.readings(count: 300, from: start, seed: 11)

        let processor = RollupProcessor(widths: widths, partitionCount: 1, duplicateWindowRecords: 64)
        try await writer.load(into: processor, stream: log.readings, connection: connection)
        RollupSketchMergeTests.apply(first, to: processor, firstOffset: 0)
        // The first attempt adds the series to the dictionary, learns their ids, and rolls back: identity values
        // are not given back, so those ids name no series.
        struct AttemptFailed: Error {}
        await #expect(throws: AttemptFailed.self) {
            try await connection.withTransaction { transaction in
                try await writer.write(processor, connection: transaction)
                throw AttemptFailed()
            }
        }
        #expect(try await connection.query("SELECT 1 FROM kappa.series").isEmpty)
        // The retry, as the runner does it: the same processor, nothing committed in between.
        try await connection.withTransaction { try await writer.write(processor, connection: $0) }
        processor.committed()
        var stored = try await Self.stored(connection)
        #expect(stored.orphans == 0, "rows were written under ids of the rolled-back attempt")
        #expect(stored.counts == Self.expectedCounts(first, widths: widths))

        // A processor started again (ids not in memory) continues the same series, some of them new.
        let second = RollupSketchMergeTests.readings(count: 200, from: start + 300 * 3_000_000, seed: 12)
            + [Reading(device: "device-new", metric: "metric-new", time: Timestamp(microsecondsSinceEpoch: start + 1), value: 4)]
        let restarted = RollupProcessor(widths: widths, partitionCount: 1, duplicateWindowRecords: 64)
        try await writer.load(into: restarted, stream: log.readings, connection: connection)
        RollupSketchMergeTests.apply(second, to: restarted, firstOffset: Int64(first.count))
        try await connection.withTransaction { try await writer.write(restarted, connection: $0) }
        restarted.committed()
        stored = try await Self.stored(connection)
        #expect(stored.orphans == 0)
        #expect(stored.counts == Self.expectedCounts(first + second, widths: widths))
        let named = try await connection.query("SELECT count(*) FROM kappa.series")
        #expect(try named[0][0].int64 == 8)
        await connection.close()
    }
}
