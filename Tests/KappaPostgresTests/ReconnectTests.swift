import KappaPostgres
import KappaTestSupport
import Testing

@Suite("Losing the server and getting it back")
struct ReconnectTests {
    @Test("server stopped gives a retryable error; restarted, reset() brings the connection back",
          .timeLimit(.minutes(2)))
    func stopAndRestart() async throws {
        // Its own cluster: stopping the shared one would break the tests running beside this one.
        let server = PostgresServer()
        let database = try await server.makeDatabase(prefix: "restart")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE t (v int8)")
        try await connection.execute("INSERT INTO t VALUES (1)")
        let portBefore = await server.port

        await server.stop()
        let lost = try await #require(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(lost.code == .connectionLost)
        #expect(lost.isRetryable)
        #expect(await connection.isBroken)
        let stillLost = try await #require(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(stillLost.isRetryable)
        let resetWhileDown = try await #require(throws: PostgresError.self) { try await connection.reset() }
        #expect(resetWhileDown.code == .connectionFailed)
        #expect(resetWhileDown.isRetryable)

        try await server.start()
        #expect(await server.port == portBefore)
        try await connection.reset()
        #expect(await !connection.isBroken)
        #expect(try await connection.query("SELECT sum(v) FROM t")[0][0].int64 == 1, "same data directory")
        let zone = try await connection.query("SELECT current_setting('TimeZone')")
        #expect(try zone[0][0].string == "UTC", "session settings are made again")
        await connection.close()
        await server.stop()
    }

    @Test("a closed connection refuses further work")
    func closed() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "closed")
        let connection = try await database.connect()
        await connection.close()
        let error = try await #require(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error.code == .closed)
        #expect(!error.isRetryable)
    }
}
