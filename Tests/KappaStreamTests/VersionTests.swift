import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Synchronization
import Testing

/// Activating and dropping output versions.
@Suite struct VersionTests {
    static let viewTotals = """
        SELECT (SELECT coalesce(sum(count), 0) FROM kappa.rollups_1m)::text || ',' ||
               (SELECT coalesce(sum(count), 0) FROM kappa.rollups_1h)::text || ',' ||
               (SELECT coalesce(sum(count), 0) FROM kappa.rollups_1d)::text
        """

    static func tableTotals(_ connection: PostgresConnection, version: String) async throws -> String {
        let rows = try await connection.query("""
            SELECT string_agg(coalesce(total, 0)::text, ',' ORDER BY width)
            FROM (VALUES (60), (3600), (86400)) AS w(width)
            LEFT JOIN (SELECT width_seconds, sum(count) AS total FROM kappa.rollups_\(version) GROUP BY 1) r ON r.width_seconds = w.width
            """)
        return try rows.first![0].string
    }

    /// v1 from every reading, v2 from the middle of the log on: every view differs between them.
    static func twoVersions(_ prefix: String) async throws -> (TestLog, PostgresTestDatabase) {
        let log = try TestLog()
        let readings = ReadingScript(devices: 4, metrics: 2, perSeries: 400, seed: 21, duplicateEvery: 0, lateEvery: 0).readings()
        try log.append(readings)
        let database = try await migratedDatabase(prefix)
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups])
        let middle = readings.map(\.time).sorted()[readings.count / 2]
        _ = try await ReplayTests.replay(.rollups, log: log, database: database, configuration: ReplayTests.configuration(version: "v2"), start: .time(middle))
        return (log, database)
    }

    @Test(.timeLimit(.minutes(2))) func readersSeeEitherVersionWholeAndNeverAnError() async throws {
        let (log, database) = try await Self.twoVersions("versions_atomic")
        defer { log.remove() }
        let connection = try await database.connect()
        let v1 = try await Self.tableTotals(connection, version: "v1")
        let v2 = try await Self.tableTotals(connection, version: "v2")
        #expect(v1 != v2)
        #expect(try await connection.query(Self.viewTotals).first![0].string == v1)

        let readings = ReaderLoop()
        try await withThrowingTaskGroup(of: Void.self) { readers in
            for _ in 0..<3 {
                readers.addTask {
                    let reader = try await database.connect()
                    // Also ends when cancelled: when the activations throw or the time limit cancels the test, the
                    // group cancels its readers and waits for them, and readers that loop on regardless hang the run.
                    while !readings.stop.load(ordering: .relaxed), !Task.isCancelled {
                        do {
                            let totals = try await reader.query(Self.viewTotals).first![0].string
                            readings.seen.withLock { $0[totals, default: 0] += 1 }
                        } catch {
                            readings.failures.withLock { $0.append("\(error)") }
                        }
                    }
                    await reader.close()
                }
            }
            for round in 0..<12 {
                try await OutputVersions().activate(connection, processor: "rollups", version: round % 2 == 0 ? "v2" : "v1")
                try await Task.sleep(for: .milliseconds(15))
            }
            readings.stop.store(true, ordering: .relaxed)
            try await readers.waitForAll()
        }
        let observed = readings.seen.withLock { $0 }
        #expect(readings.failures.withLock { $0 }.isEmpty, "readers got errors: \(readings.failures.withLock { $0.prefix(3) })")
        #expect(Set(observed.keys) == [v1, v2], "every answer is one whole version: \(observed)")
        let active = try await OutputVersions().active(connection, processor: "rollups")
        #expect(active?.version == "v1" && active?.state == .active)
        #expect(try await OutputVersions().version(connection, processor: "rollups", version: "v2")?.state == .retired)
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2))) func dropRefusesTheActiveVersionAndRemovesAnInactiveOne() async throws {
        let (log, database) = try await Self.twoVersions("versions_drop")
        defer { log.remove() }
        let connection = try await database.connect()
        let versions = OutputVersions()
        await #expect(throws: OutputVersionError.self) { try await versions.drop(connection, processor: "rollups", version: "v1") }
        await #expect(throws: OutputVersionError.self) { try await versions.activate(connection, processor: "rollups", version: "nope") }

        try await versions.activate(connection, processor: "rollups", version: "v2")
        try await versions.drop(connection, processor: "rollups", version: "v1")
        let tables = try await rowsAsText(connection, "SELECT count(*) FROM pg_tables WHERE schemaname = 'kappa' AND tablename IN ('rollups_v1', 'rollup_series_v1')")
        #expect(tables == [["0"]])
        let offsets = try await rowsAsText(connection, "SELECT count(*) FROM kappa.processor_offsets WHERE processor = 'rollups' AND output_version = 'v1'")
        #expect(offsets == [["0"]])
        #expect(try await versions.list(connection).filter { $0.processor == "rollups" }.map(\.version) == ["v2"])
        #expect(try await connection.query(Self.viewTotals).first![0].string == Self.tableTotals(connection, version: "v2"))

        // A new version is made like the active one, which is now v2.
        let replayed = try await ReplayTests.replay(.rollups, log: log, database: database, configuration: ReplayTests.configuration(version: "v3"))
        #expect(replayed.createdVersion)
        try await versions.activate(connection, processor: "rollups", version: "v3")
        #expect(try await connection.query(Self.viewTotals).first![0].string == Self.tableTotals(connection, version: "v3"))
        await connection.close()
    }
}

/// What the concurrent readers saw, shared with the test.
private final class ReaderLoop: Sendable {
    let seen = Mutex<[String: Int]>([:])
    let failures = Mutex<[String]>([])
    let stop = Atomic(false)
}
