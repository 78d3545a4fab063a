import Foundation
import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import ServiceLifecycle
import Testing

/// Percentiles, widths and units of the rollups, through the real processors into PostgreSQL.
@Suite struct RollupPercentileTests {
    /// Minutes, a width no smaller one divides (90 s, fed from readings), and widths merged upward from others.
    static let widths: [Int64] = [60, 90, 300, 900, 3600, 86_400]

    /// Three devices × four distributions over three hours, every 7th reading held back and appended late.
    static func readings() -> [Reading] {
        var random = SplitMix64(seed: 17)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        func normal() -> Double {
            let u1 = max(uniform(), 1e-300), u2 = uniform()
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        let base = (Timestamp.now().microsecondsSinceEpoch / 3_600_000_000 - 4) * 3_600_000_000
        var ordered: [Reading] = []
        var held: [Reading] = []
        for step in 0..<2_400 {
            for device in 0..<3 {
                for metric in ["uniform", "lognormal", "constant", "bimodal"] {
                    let value: Double = switch metric {
                    case "uniform": -40 + 120 * uniform()
                    case "lognormal": exp(2 + 1.5 * normal())
                    case "constant": 21.5
                    default: uniform() < 0.5 ? 10 + 0.5 * normal() : 100 + 5 * normal()
                    }
                    let time = Timestamp(microsecondsSinceEpoch: base + Int64(step) * 4_500_000 + Int64(device) * 1000 + Int64(random.next() % 1_000_000))
                    let reading = Reading(device: "device-\(device)", metric: metric, time: time, value: value, unit: metric == "constant" ? "°C" : nil)
                    if step % 7 == 3 { held.append(reading) } else { ordered.append(reading) }
                }
            }
            if held.count >= 60 {
                ordered += held
                held.removeAll()
            }
        }
        return ordered + held
    }

    @Test(.timeLimit(.minutes(2))) func percentilesOfEveryWidthLieWithinTheDocumentedBoundOfTheExactOnes() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(Self.readings())
        let database = try await migratedDatabase("percentiles")
        var configuration = ProcessorHarness.configuration()
        configuration.rollupWidths = Self.widths
        configuration.maxBatchRecords = 700  // many checkpoints: open buckets merge with their stored sketches
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups, .archive], configuration: configuration)

        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let bound = QuantileSketch.relativeAccuracy
        for width in Self.widths {
            let view = RollupWidths.viewName(ofWidth: width)
            // The rank ⌊q (n − 1)⌋ in float8, as the sketch computes it, of each bucket's archived readings.
            let rows = try await connection.query(
                """
                WITH exact AS (
                    SELECT device, metric, date_bin(make_interval(secs => $1), time, timestamptz 'epoch') AS bucket,
                           count(*) AS n, array_agg(value ORDER BY value) AS v
                    FROM kappa.readings GROUP BY 1, 2, 3
                )
                SELECT r.metric, r.p50, r.p90, r.p99,
                       e.v[floor(0.5::float8 * (e.n - 1))::int + 1], e.v[floor(0.9::float8 * (e.n - 1))::int + 1],
                       e.v[floor(0.99::float8 * (e.n - 1))::int + 1], r.count, e.n, r.unit
                FROM kappa.\(PostgresIdentifier(view).quoted) r JOIN exact e ON e.device = r.device AND e.metric = r.metric AND e.bucket = r.bucket
                """, [.int64(width)]
            )
            let stored = try await connection.query("SELECT count(*) FROM kappa.rollups WHERE width_seconds = $1", [.int64(width)]).first?[0].int
            #expect(rows.count == stored && rows.count > 0, "width \(width): every bucket has its view row and its readings")
            for row in rows {
                let metric = try row[0].string
                #expect(try row[7].int64 == row[8].int64, "width \(width) \(metric): count")
                for (estimateColumn, exactColumn) in [(1, 4), (2, 5), (3, 6)] {
                    let estimate = try row[estimateColumn].double, exact = try row[exactColumn].double
                    if metric == "constant" {
                        #expect(estimate == exact, "width \(width): a constant's percentiles are the constant")
                    } else {
                        #expect(abs(estimate - exact) <= bound * abs(exact) * (1 + 1e-9) + 1e-9,
                                "width \(width) \(metric) column \(estimateColumn): \(estimate) vs exact \(exact)")
                    }
                }
                #expect(row[9].isNull == (metric != "constant"), "the unit of the last reading")
                if metric == "constant" { #expect(try row[9].string == "°C") }
            }
        }

        // Merged upward (1d from 1h from 15m from 5m from 1m) is the sketch of every reading, bin for bin.
        let values = try await connection.query("SELECT device, metric, date_bin('1 hour', time, timestamptz 'epoch')::text, value FROM kappa.readings")
        var direct: [String: QuantileSketch] = [:]
        for row in values {
            direct["\(try row[0].string) \(try row[1].string) \(try row[2].string)", default: QuantileSketch()].add(try row[3].double)
        }
        let hours = try await connection.query("SELECT device, metric, bucket::text, sketch FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id WHERE width_seconds = 3600")
        #expect(hours.count == direct.count)
        for row in hours {
            let key = "\(try row[0].string) \(try row[1].string) \(try row[2].string)"
            #expect(QuantileSketch(encoded: try row[3].bytes) == direct[key], "\(key)")
        }
    }

    /// The same readings in one checkpoint and in many give the same sketches and percentiles, byte for byte.
    @Test(.timeLimit(.minutes(2))) func checkpointBoundariesDoNotChangeThePercentiles() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(Array(Self.readings().prefix(6_000)))
        var contents: [[[String]]] = []
        for batch in [97, 100_000] {
            let database = try await migratedDatabase("percentile_boundaries")
            var configuration = ProcessorHarness.configuration()
            configuration.rollupWidths = Self.widths
            configuration.maxBatchRecords = batch
            try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups], configuration: configuration)
            let connection = try await database.connect()
            contents.append(try await rowsAsText(connection, "SELECT device, metric, width_seconds, bucket, count, sketch, p50, p90, p99, unit FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id ORDER BY 1, 2, 3, 4"))
            await connection.close()
        }
        #expect(contents[0] == contents[1])
        #expect(contents[0].count > 100)
    }

    /// Other widths on a version built with 1m, 1h, 1d: the rollups processor stops with a message that says
    /// what to do; started with its own widths again, it goes on.
    @Test(.timeLimit(.minutes(2))) func widthsOtherThanTheVersionsStopTheProcessorClearly() async throws {
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        let minute = (Timestamp.now().microsecondsSinceEpoch / 60_000_000 - 10) * 60_000_000
        try log.append([Reading(device: "d", metric: "t", time: Timestamp(microsecondsSinceEpoch: minute), value: 1)])
        let database = try await migratedDatabase("width_change")
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups])

        var changed = ProcessorHarness.configuration()
        changed.rollupWidths = [60, 300]
        changed.rollupWidthsGiven = true
        let status = ProcessorStatus()
        let services = try ProcessorSet.make(
            roles: [.rollups], log: log.log, database: PostgresConfiguration(conninfo: database.conninfo),
            configuration: changed, status: status, logger: quietLogger
        )
        let group = ServiceGroup(services: services, logger: quietLogger)
        var failure: String?
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try? await group.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while failure == nil, ContinuousClock.now < deadline {
                failure = status.snapshot("rollups")?.failure
                try await Task.sleep(for: .milliseconds(20))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let message = try #require(failure)
        #expect(message.contains("holds the widths 1m,1h,1d, not 1m,5m"), "\(message)")
        #expect(message.contains("kappa replay rollups --output-version"), "\(message)")

        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let recorded = try await connection.query("SELECT configuration->>'rollup_widths' FROM kappa.versions WHERE processor = 'rollups' AND version = 'v1'")
        #expect(try recorded.first?[0].string == "[60, 3600, 86400]", "the first writer recorded its widths")
        #expect(try await connection.query("SELECT to_regclass('kappa.rollups_5m') IS NULL").first?[0].bool == true, "no view for a width never written")

        // A fresh database takes any widths, and the view of each.
        let fresh = try await migratedDatabase("width_fresh")
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: fresh, roles: [.rollups], configuration: changed)
        let freshConnection = try await fresh.connect()
        defer { Task { await freshConnection.close() } }
        let fiveMinutes = try await freshConnection.query("SELECT count, p50 FROM kappa.rollups_5m")
        #expect(fiveMinutes.count == 1)
        #expect(try fiveMinutes.first?[1].double == 1)
    }

    /// A bucket stored before sketches existed shows no percentiles after more readings merge into it (they
    /// would describe only part of its readings); new buckets have them.
    @Test(.timeLimit(.minutes(1))) func bucketsFromBeforeSketchesGetNoPercentiles() async throws {
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        let database = try await PostgresServer.shared.makeDatabase(prefix: "sketchless")
        let minute = (Timestamp.now().microsecondsSinceEpoch / 60_000_000 - 10) * 60_000_000
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        // The layout of migration 12 (rows by device and metric); migration 13 moves the row into series and partitions.
        try await SchemaMigrator(schema: PostgresIdentifier(KappaSchema.defaultSchema), migrations: KappaSchema.migrations.filter { $0.version <= 12 })
            .migrate(connection)
        // As a gateway before this migration left it: a row without a sketch, and the series' watermark.
        try await connection.execute(
            """
            INSERT INTO kappa.rollups_v1 (device, metric, width_seconds, bucket, count, sum, min, max, mean, m2, first_value, first_time, last_value, last_time)
            VALUES ('d', 't', 60, to_timestamp($1::float8 / 1e6), 1, 5, 5, 5, 5, 0, 5, to_timestamp($1::float8 / 1e6), 5, to_timestamp($1::float8 / 1e6))
            """, [.int64(minute)]
        )
        try await connection.execute(
            "INSERT INTO kappa.rollup_series_v1 (device, metric, watermark) VALUES ('d', 't', to_timestamp($1::float8 / 1e6))", [.int64(minute)]
        )
        try await SchemaMigrator().migrate(connection)
        try log.append([
            Reading(device: "d", metric: "t", time: Timestamp(microsecondsSinceEpoch: minute + 10_000_000), value: 7),
            Reading(device: "d", metric: "t", time: Timestamp(microsecondsSinceEpoch: minute + 70_000_000), value: 9),
        ])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups])
        let rows = try await connection.query("SELECT count, p50, p99, sketch IS NULL FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id WHERE width_seconds = 60 ORDER BY bucket")
        #expect(rows.count == 2)
        #expect(try rows[0][0].int == 2 && rows[0][1].isNull && rows[0][2].isNull && rows[0][3].bool)
        #expect(try rows[1][0].int == 1 && rows[1][1].double == 9 && !rows[1][3].bool)
    }
}
