import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

@Suite struct RollupTests {
    /// Rollups equal PostgreSQL's GROUP BY over the archived readings, for every width; duplicates are
    /// archived and counted once; late readings merge into their buckets.
    @Test(.timeLimit(.minutes(1))) func rollupsEqualGroupByOverTheArchive() async throws {
        let log = try TestLog()
        defer { log.remove() }
        let script = ReadingScript()
        let readings = script.readings()
        try log.append(readings)
        let database = try await migratedDatabase("rollups")
        let status = ProcessorStatus()
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, status: status)

        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let distinct = Set(readings.map { "\($0.device)|\($0.metric)|\($0.time.nanosecondsSinceEpoch)|\($0.value.bitPattern)" }).count
        #expect(distinct < readings.count, "the script must contain duplicates")
        let archived = try await connection.query("SELECT count(*) FROM kappa.readings").first?[0].int
        #expect(archived == distinct)
        #expect(status.snapshot("rollups")?.duplicates == Int64(readings.count - distinct))

        for width in [60, 3600, 86_400] {
            let ours = try await connection.query(
                """
                SELECT device, metric, bucket::text, count, sum, min, max, mean, coalesce(sqrt(greatest(m2,0) / nullif(count - 1, 0)), -1),
                       first_value, first_time::text, last_value, last_time::text
                FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id WHERE width_seconds = $1 ORDER BY device, metric, bucket
                """, [.int64(Int64(width))]
            )
            let expected = try await connection.query(
                """
                SELECT device, metric, date_bin(make_interval(secs => $1), time, timestamptz 'epoch')::text AS bucket,
                       count(*), sum(value), min(value), max(value), avg(value), coalesce(stddev(value), -1),
                       (array_agg(value ORDER BY time))[1], min(time)::text, (array_agg(value ORDER BY time DESC))[1], max(time)::text
                FROM kappa.readings_v1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """, [.int64(Int64(width))]
            )
            #expect(ours.count == expected.count)
            #expect(ours.count > 0)
            for (mine, theirs) in zip(ours, expected) {
                for column in [0, 1, 2, 3, 5, 6, 9, 10, 11, 12] {
                    #expect(try mine[column].string == theirs[column].string, "width \(width) column \(column)")
                }
                for column in [4, 7, 8] {
                    let a = try mine[column].double, b = try theirs[column].double
                    #expect(closeEnough(a, b), "width \(width) column \(column): \(a) vs \(b)")
                }
            }
        }
        let late = try await connection.query("SELECT sum(late)::bigint FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id WHERE width_seconds = 60").first?[0].int64
        #expect((late ?? 0) > 0, "held-back readings arrive after their minute closed")
        let views = try await connection.query("SELECT count(*) FROM kappa.latest")
        #expect(try views.first?[0].int == script.devices * script.metrics)
        let devices = try await connection.query("SELECT device, readings, status, tags::text FROM kappa.devices ORDER BY device")
        #expect(devices.count == script.devices)
        #expect(try devices.map { try $0[1].int64 }.reduce(0, +) == Int64(distinct))
        #expect(try devices[0][2].string == "offline", "readings end an hour before now; the default silence is 5 minutes")
        #expect(try devices[0][3].string == #"{"site": "s0"}"#)
    }

    /// The same readings cut into different checkpoints give the same rollups (merges are associative).
    /// Hundreds of 7-record checkpoints of three processors: alone it takes seconds, but in a full run on a loaded
    /// 2-core machine it took 100–117 s (each rollups checkpoint also reads back and rewrites the stored sketches
    /// of open buckets), so the limit only guards against a hang.
    @Test(.timeLimit(.minutes(3))) func checkpointBoundariesDoNotChangeTheResult() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(ReadingScript(devices: 3, metrics: 2, perSeries: 150).readings())
        var contents: [TableContents] = []
        for batch in [7, 100_000] {
            let database = try await migratedDatabase("boundaries")
            var configuration = ProcessorHarness.configuration()
            configuration.maxBatchRecords = batch
            try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, configuration: configuration)
            let connection = try await database.connect()
            contents.append(try await TableContents.read(connection))
            await connection.close()
        }
        #expect(contents[0].matches(contents[1]))
        #expect(!contents[0].rollups.isEmpty)
    }

    /// Readings appended after a checkpoint merge into the open bucket already stored.
    @Test(.timeLimit(.minutes(1))) func openBucketsAreUpdatedByLaterCheckpoints() async throws {
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        let database = try await migratedDatabase("open_buckets")
        let minute: Int64 = (Timestamp.now().microsecondsSinceEpoch / 60_000_000 - 10) * 60_000_000
        func reading(_ second: Int64, _ value: Double) -> Reading {
            Reading(device: "d", metric: "t", time: Timestamp(microsecondsSinceEpoch: minute + second * 1_000_000), value: value)
        }
        try log.append([reading(10, 1), reading(20, 2)])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups])
        try log.append([reading(5, 4), reading(30, 8), reading(30, 8), reading(61, 100), reading(40, 16)])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups])
        let connection = try await database.connect()
        let rows = try await connection.query("SELECT count, sum, min, max, first_value, last_value, late, stddev FROM kappa.rollups_1m ORDER BY bucket")
        #expect(rows.count == 2)
        let values: [Double] = [1, 2, 4, 8, 16]
        let mean = values.reduce(0, +) / 5
        let stddev = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4).squareRoot()
        #expect(try rows[0][0].int == 5)
        #expect(try rows[0][1].double == 31)
        #expect(try rows[0][2].double == 1 && rows[0][3].double == 16)
        #expect(try rows[0][4].double == 4, "the reading at :05 came later but is the first in event time")
        #expect(try rows[0][5].double == 16, "the reading at :40 came after :61 but is the bucket's last")
        #expect(try rows[0][6].int == 1, "the reading at :40 arrived after the minute had closed")
        #expect(closeEnough(try rows[0][7].double, stddev))
        await connection.close()
    }
}
