import Foundation
import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import ServiceLifecycle
import Testing

/// The rollups' storage (issue 17): the series dictionary, tables keyed by (series_id, bucket) partitioned by
/// width and time, retention by dropping partitions, the README's queries on the migrated layout and their plans,
/// and tag columns.
@Suite(.serialized) struct RollupStorageTests {
    static let hour: Int64 = 3_600_000_000
    static let day: Int64 = 86_400_000_000

    /// Readings every `step` seconds for `devices` × temperature/humidity over the `hours` before now, with
    /// a site and line tag from the device number.
    static func fleet(devices: Int, hours: Int64, step: Int64, endingBefore now: Int64 = Timestamp.now().microsecondsSinceEpoch) -> [Reading] {
        var random = SplitMix64(seed: 17)
        var readings: [Reading] = []
        let start = now - hours * hour
        var time = start
        while time < now - 60_000_000 {
            for device in 0..<devices {
                for metric in ["temperature", "humidity"] {
                    let value = Double(random.next() % 10_000) / 100 + (metric == "humidity" ? 30 : 0)
                    let tags = [Tag(key: "line", value: "l\(device % 2)"), Tag(key: "site", value: "s\(device % 3)")]
                    readings.append(Reading(
                        device: "env-" + String(repeating: "0", count: 5 - String(device).count) + String(device), metric: metric,
                        time: Timestamp(microsecondsSinceEpoch: time + Int64(device) * 1000), value: value, tags: tags
                    ))
                }
            }
            time += step * 1_000_000
        }
        return readings
    }

    /// The README's example queries over the rollup views of `schema`, each ordered so results compare exactly.
    static func readmeQueries(_ schema: String) -> [String] {
        [
            "SELECT bucket, mean, max FROM \(schema).rollups_1m WHERE device = 'env-00003' AND metric = 'temperature' AND bucket > now() - interval '24 hours' ORDER BY bucket",
            "SELECT bucket, p50, p99 FROM \(schema).rollups_5m WHERE device = 'env-00003' AND metric = 'temperature' ORDER BY bucket DESC LIMIT 12",
            "SELECT device, metric, avg(mean) FROM \(schema).rollups_1m WHERE bucket > now() - interval '1 hour' GROUP BY 1, 2 ORDER BY 1, 2",
            "SELECT * FROM \(schema).rollups_1h WHERE device = 'env-00003' ORDER BY metric, bucket",
            "SELECT * FROM \(schema).rollups_1d ORDER BY device, metric, bucket",
            "SELECT * FROM \(schema).rollups ORDER BY device, metric, width_seconds, bucket",
        ]
    }

    static let widths: [Int64] = [60, 300, 3600, 86_400]

    /// The rollups processor over `log` with ``widths``, until it has caught up.
    static func runRollups(log: TestLog, database: PostgresTestDatabase) async throws {
        var configuration = ProcessorHarness.configuration()
        configuration.rollupWidths = widths
        configuration.maxBatchRecords = 5000
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups], configuration: configuration)
    }

    /// A gateway's rollups copied into a schema at migration 12 (rows keyed by device and metric text) answer
    /// the README's queries exactly as before once migration 13 moved them into the series dictionary and the
    /// partitioned tables, and exactly as the gateway's own new-layout tables do.
    @Test(.timeLimit(.minutes(3))) func theReadmeQueriesAnswerTheSameAfterTheMigration() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(Self.fleet(devices: 6, hours: 26, step: 40))
        let database = try await migratedDatabase("storage_migration")
        try await Self.runRollups(log: log, database: database)
        let connection = try await database.connect()
        defer { Task { await connection.close() } }

        // The old layout, holding the same rows.
        try await SchemaMigrator(schema: PostgresIdentifier("old"), migrations: KappaSchema.migrations.filter { $0.version <= 12 }).migrate(connection)
        try await connection.executeScript(
            """
            INSERT INTO old.rollups_v1 (device, metric, width_seconds, bucket, count, sum, min, max, mean, m2, first_value, first_time,
                                        last_value, last_time, late, updated_at, unit, sketch, p50, p90, p99)
            SELECT s.device, s.metric, r.width_seconds, r.bucket, r.count, r.sum, r.min, r.max, r.mean, r.m2, r.first_value, r.first_time,
                   r.last_value, r.last_time, r.late, r.updated_at, r.unit, r.sketch, r.p50, r.p90, r.p99
            FROM kappa.rollups_v1 r JOIN kappa.series s ON s.id = r.series_id;
            CREATE VIEW old.rollups_5m AS
                SELECT device, metric, bucket, count, sum, min, max, mean, stddev, first_value, first_time, last_value, last_time,
                       late, p50, p90, p99, unit FROM old.rollups WHERE width_seconds = 300;
            """
        )
        // One instant for every run of the queries: the three runs are seconds apart, and a window that moved
        // by a minute would compare other buckets.
        let instant = try await connection.query("SELECT now()::text").first![0].string
        func at(_ query: String) -> String { query.replacingOccurrences(of: "now()", with: "'\(instant)'::timestamptz") }
        var before: [[[String]]] = []
        for query in Self.readmeQueries("old") { before.append(try await rowsAsText(connection, at(query))) }
        #expect(before.allSatisfy { !$0.isEmpty }, "every query has rows to compare")
        #expect(before[0].count > 1000 && before[2].count == 12)

        let applied = try await SchemaMigrator(schema: PostgresIdentifier("old")).migrate(connection)
        #expect(applied.map(\.version).contains(13))
        var after: [[[String]]] = []
        for query in Self.readmeQueries("old") { after.append(try await rowsAsText(connection, at(query))) }
        var gateway: [[[String]]] = []
        for query in Self.readmeQueries("kappa") { gateway.append(try await rowsAsText(connection, at(query))) }
        // avg() adds in scan order, which a new layout may change: that query's averages compare within rounding.
        func same(_ a: [[String]], _ b: [[String]], averaged: Bool) -> Bool {
            guard averaged else { return a == b }
            return a.count == b.count && zip(a, b).allSatisfy { x, y in
                x.count == y.count && x.dropLast() == y.dropLast() && closeEnough(Double(x.last!)!, Double(y.last!)!)
            }
        }
        for index in before.indices {
            #expect(same(after[index], before[index], averaged: index == 2), "query \(index) changed with the migration")
            #expect(same(gateway[index], before[index], averaged: index == 2), "query \(index) differs from the gateway's own tables")
        }
        // Nothing is left of the old layout: the table is partitioned by width and day, keyed by series id.
        let layout = try await rowsAsText(connection, """
            SELECT c.relkind::text, pg_get_partkeydef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'old' AND c.relname = 'rollups_v1'
            """)
        #expect(layout == [["p", "LIST (width_seconds)"]])
        let minutePartitions = try await connection.query(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'old.rollups_v1_1m'::regclass"
        ).first?[0].int
        #expect((minutePartitions ?? 0) >= 2, "26 hours of 1m buckets lie in at least two day partitions")
        let seriesCount = try await connection.query("SELECT count(*) FROM old.series").first?[0].int
        #expect(seriesCount == 12)

        // The gateway goes on writing into the migrated layout, merging into its migrated rows.
        let total = try await connection.query("SELECT sum(count)::bigint FROM old.rollups_1d").first?[0].int64
        let counted = try await connection.query("SELECT sum(count)::bigint FROM kappa.rollups_1d").first?[0].int64
        #expect(total == counted && total == Int64(Self.fleet(devices: 6, hours: 26, step: 40).count))
    }

    /// Retention drops whole partitions whose span ended before the width's retention, and nothing newer:
    /// the rows of the partitions it keeps are untouched, a width kept forever loses nothing, and a late
    /// reading for an expired bucket is not written (no partition is made for it).
    @Test(.timeLimit(.minutes(2))) func retentionDropsOldPartitionsAndNothingNewer() async throws {
        let log = try TestLog(partitions: 2)
        defer { log.remove() }
        let now = Timestamp.now().microsecondsSinceEpoch
        var readings: [Reading] = []
        for daysAgo: Int64 in [120, 45, 40, 20, 10, 1, 0] {
            for device in 0..<3 {
                for offset in 0..<5 {
                    let time = now - daysAgo * Self.day - Self.hour + Int64(offset) * 61_000_000 + Int64(device)
                    readings.append(Reading(device: "d\(device)", metric: "t", time: Timestamp(microsecondsSinceEpoch: time), value: Double(offset)))
                }
            }
        }
        try log.append(readings)
        let database = try await migratedDatabase("storage_retention")
        var keepAll = ProcessorHarness.configuration()
        keepAll.rollupRetention = RollupRetention([60: nil, 3600: nil, 86_400: nil])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups], configuration: keepAll)
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let partitionsQuery = """
            SELECT w.relname::text, p.relname::text, (SELECT count(*) FROM kappa.rollups_v1 r WHERE r.tableoid = p.oid)::text,
                   (extract(epoch FROM substring(pg_get_expr(p.relpartbound, p.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz) * 1000000)::bigint::text
            FROM pg_inherits wi JOIN pg_class w ON w.oid = wi.inhrelid JOIN pg_inherits pi ON pi.inhparent = w.oid JOIN pg_class p ON p.oid = pi.inhrelid
            WHERE wi.inhparent = 'kappa.rollups_v1'::regclass ORDER BY 1, 2
            """
        let before = try await rowsAsText(connection, partitionsQuery)
        #expect(before.filter { $0[0] == "rollups_v1_1m" }.count >= 7, "a day partition per day with readings, plus tomorrow's")

        // Minutes kept 30 days, hours 30 days, days forever; one new reading makes the checkpoint that applies it,
        // and a late one for 60 days ago must not be written.
        try log.append([
            Reading(device: "d0", metric: "t", time: Timestamp(microsecondsSinceEpoch: now), value: 1),
            Reading(device: "d1", metric: "t", time: Timestamp(microsecondsSinceEpoch: now - 60 * Self.day), value: 1),
        ])
        var shorter = ProcessorHarness.configuration()
        shorter.rollupRetention = RollupRetention([60: .seconds(30 * 86_400), 3600: .seconds(30 * 86_400), 86_400: nil])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups], configuration: shorter)
        let after = try await rowsAsText(connection, partitionsQuery)

        let cutoff = now - 30 * Self.day
        for partition in before {
            let end = Int64(partition[3])!
            let expired = partition[0] != "rollups_v1_1d" && end <= cutoff
            let kept = after.first { $0[1] == partition[1] }
            if expired {
                #expect(kept == nil, "\(partition[1]) ended before the retention and should be gone")
            } else {
                #expect(kept != nil, "\(partition[1]) is within the retention and should stay")
                // Untouched, but for the new readings (in today's minute and hour, and in the day partitions).
                if let kept {
                    if partition[0] == "rollups_v1_1d" || end > now {
                        #expect(Int(kept[2])! >= Int(partition[2])!)
                    } else {
                        #expect(kept[2] == partition[2], "\(partition[1]) lost or gained rows")
                    }
                }
            }
        }
        #expect(before.contains { $0[0] == "rollups_v1_1m" && Int64($0[3])! <= cutoff }, "the test must have expired partitions")
        #expect(after.count < before.count)
        #expect(!after.contains { $0[0] != "rollups_v1_1d" && Int64($0[3])! <= cutoff }, "no partition was made for the late reading")
        // The day width is kept forever: every reading is still counted there, the late one included.
        let days = try await connection.query("SELECT sum(count)::bigint FROM kappa.rollups_1d").first?[0].int64
        #expect(days == Int64(readings.count + 2))
        let minutes = try await connection.query(
            "SELECT count(*) FROM kappa.rollups_1m WHERE bucket < to_timestamp($1::float8 / 1e6)", [.int64(cutoff)]
        ).first?[0].int
        #expect(minutes == 0)
    }

    /// With rows enough for the planner to care and statistics, the README's queries read the indexes of the
    /// partitions they need: no sequential scan of a rollup partition, and a single series' last day touches
    /// no partition that ended before it.
    @Test(.timeLimit(.minutes(3))) func theReadmeQueriesUseTheIndexesAndPrunePartitions() async throws {
        let log = try TestLog()
        defer { log.remove() }
        // A few readings per series on each of the last three days make the series, widths and partitions;
        // SQL then fills every minute of them.
        try log.append(Self.fleet(devices: 40, hours: 52, step: 4 * 3600))
        let database = try await migratedDatabase("storage_plans")
        try await Self.runRollups(log: log, database: database)
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        try await connection.executeScript(
            """
            INSERT INTO kappa.rollups_v1 (series_id, width_seconds, bucket, count, sum, min, max, mean, m2, first_value, first_time, last_value, last_time)
            SELECT s.id, w.seconds, b, 1, 1, 1, 1, 1, 0, 1, b, 1, b
            FROM kappa.series s, (VALUES (60), (300), (3600)) AS w(seconds),
                 generate_series(date_bin(make_interval(secs => w.seconds), now() - interval '50 hours', timestamptz 'epoch'),
                                 now(), make_interval(secs => w.seconds)) AS b
            ON CONFLICT DO NOTHING;
            ANALYZE kappa.series;
            ANALYZE kappa.rollups_v1;
            """
        )
        let rows = try await connection.query("SELECT count(*) FROM kappa.rollups_v1 WHERE width_seconds = 60").first?[0].int
        #expect((rows ?? 0) > 200_000)
        for (index, query) in Self.readmeQueries("kappa").prefix(4).enumerated() {
            let plan = try await connection.query("EXPLAIN \(query)").map { try $0[0].string }.joined(separator: "\n")
            // A partition of a few pages (ahead of now) is rightly read whole: the index would cost more. So is
            // one the query needs most of: "all devices, last hour" just after midnight wants all of today's.
            var everyWholeReadNeeded = true
            for line in plan.split(separator: "\n") where line.contains("Seq Scan on rollups_v1_") {
                let partition = line.split(separator: " ").first { $0.hasPrefix("rollups_v1_") }.map(String.init) ?? ""
                let counts = try await connection.query(
                    """
                    SELECT count(*), count(*) FILTER (WHERE bucket > now() - interval '1 hour')
                    FROM kappa.rollups_v1 WHERE tableoid = to_regclass($1)
                    """, [.text("kappa." + partition)]
                )
                let rows = try counts.first?[0].int ?? .max, lastHour = try counts.first?[1].int ?? 0
                let neededMostly = index == 2 && lastHour * 2 >= rows
                #expect(rows < 1000 || neededMostly, "\(partition), holding \(rows) rows, is read whole:\n\(query)\n\(plan)")
                everyWholeReadNeeded = everyWholeReadNeeded && neededMostly
            }
            #expect(plan.contains("Index") || (index == 2 && everyWholeReadNeeded), "no index is used:\n\(query)\n\(plan)")
        }
        // The last 24 hours of one series: partitions that ended more than a day ago are pruned.
        let plan = try await connection.query("EXPLAIN (ANALYZE, COSTS OFF) \(Self.readmeQueries("kappa")[0])").map { try $0[0].string }.joined(separator: "\n")
        let old = try await rowsAsText(connection, """
            SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
            WHERE i.inhparent = 'kappa.rollups_v1_1m'::regclass
              AND substring(pg_get_expr(p.relpartbound, p.oid) FROM 'TO \\(''([^'']+)''\\)')::timestamptz <= now() - interval '24 hours'
            """).map { $0[0] }
        #expect(!old.isEmpty, "the data spans partitions older than a day")
        for partition in old {
            #expect(!plan.contains(" on \(partition) "), "\(partition) is read:\n\(plan)")
        }
    }

    /// Configured tag keys become columns of `series` and of every rollup view: `GROUP BY site` is plain SQL and
    /// agrees with the archive's tags; a series shows its newest reading's tags.
    @Test(.timeLimit(.minutes(2))) func tagColumnsGroupLikeTheArchive() async throws {
        let log = try TestLog()
        defer { log.remove() }
        var readings = Self.fleet(devices: 6, hours: 3, step: 120)
        // env-00000 moves from site s0 to s9 with its last reading.
        let last = readings.filter { $0.device == "env-00000" }.map(\.time.microsecondsSinceEpoch).max()!
        readings.append(Reading(device: "env-00000", metric: "temperature", time: Timestamp(microsecondsSinceEpoch: last + 1), value: 1,
                                tags: [Tag(key: "line", value: "l0"), Tag(key: "site", value: "s9")]))
        try log.append(readings)
        let database = try await migratedDatabase("storage_tags")
        var configuration = ProcessorHarness.configuration()
        configuration.rollupTagColumns = ["site", "line"]
        configuration.archiveRetention = nil
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups, .archive], configuration: configuration)
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        for view in ["series", "rollups", "rollups_1m", "rollups_1h", "rollups_1d"] {
            let columns = try await rowsAsText(connection, """
                SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns
                WHERE table_schema = 'kappa' AND table_name = '\(view)'
                """)
            #expect(columns.first?.first?.hasSuffix(",site,line") == true, "\(view): \(columns)")
        }
        let bySite = try await rowsAsText(connection, "SELECT site, line, sum(count)::bigint FROM kappa.rollups_1h WHERE device <> 'env-00000' GROUP BY site, line ORDER BY 1, 2")
        let archived = try await rowsAsText(connection, """
            SELECT tags->>'site', tags->>'line', count(*) FROM kappa.readings WHERE device <> 'env-00000' GROUP BY 1, 2 ORDER BY 1, 2
            """)
        #expect(bySite == archived && bySite.count == 5)
        let moved = try await rowsAsText(connection, "SELECT DISTINCT metric, site FROM kappa.rollups_1m WHERE device = 'env-00000' ORDER BY 1")
        #expect(moved == [["humidity", "s0"], ["temperature", "s9"]])
        // Restarting with the same columns changes nothing in the views; without them they stay.
        configuration.rollupTagColumns = []
        try log.append([Reading(device: "env-00001", metric: "temperature", time: Timestamp.now(), value: 2)])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups, .archive], configuration: configuration)
        let site = try await rowsAsText(connection, "SELECT DISTINCT site FROM kappa.rollups_1m WHERE device = 'env-00001'")
        #expect(site == [["s1"]])
    }

    /// A replay into v2 (its own partitioned table, the shared dictionary) and `activate` move every view, tag
    /// columns included, to v2 in one step; the views then answer as over v1, and v1 can be dropped whole.
    @Test(.timeLimit(.minutes(2))) func activatingAReplayedVersionKeepsTheViewsAndTagColumns() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(Self.fleet(devices: 4, hours: 2, step: 90))
        let database = try await migratedDatabase("storage_versions")
        var configuration = ProcessorHarness.configuration()
        configuration.rollupTagColumns = ["site"]
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups], configuration: configuration)
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let query = "SELECT device, metric, site, bucket, count, min, max, first_value, last_value FROM kappa.rollups_1m ORDER BY 1, 2, 4"
        let live = try await rowsAsText(connection, query)
        let seriesBefore = try await rowsAsText(connection, "SELECT id, device, metric FROM kappa.series ORDER BY id")

        var replayConfiguration = configuration
        replayConfiguration.outputVersion = "v2"
        let replay = Replay(role: .rollups, start: .earliest, configuration: replayConfiguration, log: log.log,
                            database: PostgresConfiguration(conninfo: database.conninfo), logger: quietLogger)
        _ = try await replay.prepare()
        try await ServiceGroup(configuration: ServiceGroupConfiguration(
            services: try replay.services(untilCaughtUp: true, progressInterval: .milliseconds(50)), logger: quietLogger
        )).run()
        let layout = try await rowsAsText(connection, "SELECT pg_get_partkeydef('kappa.rollups_v2'::regclass), (SELECT count(*) FROM pg_inherits WHERE inhparent = 'kappa.rollups_v2'::regclass)::text")
        #expect(layout == [["LIST (width_seconds)", "3"]])
        #expect(try await rowsAsText(connection, "SELECT id, device, metric FROM kappa.series ORDER BY id") == seriesBefore, "the replay reuses every id")

        try await OutputVersions().activate(connection, processor: "rollups", version: "v2")
        let definition = try await rowsAsText(connection, "SELECT pg_get_viewdef('kappa.rollups'::regclass)")
        #expect(definition.first?.first?.contains("rollups_v2") == true)
        #expect(try await rowsAsText(connection, query) == live)
        try await OutputVersions().drop(connection, processor: "rollups", version: "v1")
        #expect(try await rowsAsText(connection, query) == live)
        let left = try await rowsAsText(connection, "SELECT count(*) FROM pg_class WHERE relname LIKE 'rollups\\_v1\\_%'")
        #expect(left == [["0"]], "the old version's partitions went with it")
    }
}
