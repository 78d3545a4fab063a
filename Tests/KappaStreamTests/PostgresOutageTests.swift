import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

@Suite struct PostgresOutageTests {
    /// PostgreSQL stops mid-run and comes back: the processors retry, catch up, and the tables match a run
    /// that never saw the outage.
    @Test(.timeLimit(.minutes(3))) func serverRestartMidRunLosesAndDoublesNothing() async throws {
        let log = try TestLog()
        defer { log.remove() }
        let script = ReadingScript(devices: 4, metrics: 2, perSeries: 300, seed: 99)
        let readings = script.readings()
        let half = readings.count / 2
        try log.append(Array(readings[..<half]))

        let reference = try await migratedDatabase("outage_reference")
        let server = PostgresServer()
        let database = try await migratedDatabase("outage", server: server)
        let status = ProcessorStatus()
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, status: status) {
            try await ProcessorHarness.waitUntilCommitted(database: database, roles: [.rollups, .devices, .archive], offsets: log.highWatermarks())
            await server.stop()
            try log.append(Array(readings[half...]))
            try await Task.sleep(for: .milliseconds(400))
            try await server.start()
        }
        #expect((status.snapshot("rollups")?.postgresErrors ?? 0) > 0, "the outage was noticed and retried")
        #expect(status.snapshot("rollups")?.lagRecords == 0)

        try await ProcessorHarness.runUntilCaughtUp(log: log, database: reference)
        let referenceConnection = try await reference.connect()
        let connection = try await database.connect()
        let expected = try await TableContents.read(referenceConnection)
        let actual = try await TableContents.read(connection)
        #expect(actual.rollups == expected.rollups)
        #expect(actual.archive.count == expected.archive.count)
        #expect(actual.matches(expected))
        await referenceConnection.close()
        await connection.close()
        await server.stop()
    }
}
