import KappaPostgres
import KappaTestSupport
import Testing

@Suite("Errors carry SQLSTATE and never leak secrets")
struct ErrorTests {
    @Test("unique violation, syntax error, undefined table give their SQLSTATE")
    func sqlStates() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "errors")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE devices (id text PRIMARY KEY)")
        try await connection.execute("INSERT INTO devices VALUES ($1)", ["sensor-7"])

        let duplicate = try await #require(throws: PostgresError.self) {
            try await connection.execute("INSERT INTO devices VALUES ($1)", ["sensor-7"])
        }
        #expect(duplicate.code == .queryFailed)
        #expect(duplicate.sqlState == .uniqueViolation)
        #expect(duplicate.sqlState?.class == "23")
        #expect(duplicate.constraintName == "devices_pkey")
        #expect(duplicate.tableName == "devices")
        #expect(duplicate.message.contains("duplicate key"))
        #expect(duplicate.detail?.contains("sensor-7") == true)
        #expect(!duplicate.description.contains("sensor-7"), "row values stay out of the description")
        #expect(!duplicate.isRetryable)

        let syntax = try await #require(throws: PostgresError.self) { try await connection.execute("SELEC 1") }
        #expect(syntax.sqlState == .syntaxError)
        #expect(syntax.severity == "ERROR")

        let missing = try await #require(throws: PostgresError.self) {
            try await connection.query("SELECT * FROM no_such_table")
        }
        #expect(missing.sqlState == .undefinedTable)
        #expect(missing.message.contains("no_such_table"))

        // The connection is still usable after errors.
        #expect(try await connection.query("SELECT count(*) FROM devices")[0][0].int64 == 1)
        await connection.close()
    }

    @Test("connecting to a port nobody listens on fails without showing the password")
    func connectFailureHidesPassword() async throws {
        let port = LoopbackPort.free()
        let secret = "s3cr3t-kappa-pw"
        let configurations = [
            PostgresConfiguration(conninfo: "host=127.0.0.1 port=\(port) user=postgres password=\(secret) dbname=x"),
            PostgresConfiguration(conninfo: "postgres://postgres:\(secret)@127.0.0.1:\(port)/x"),
            PostgresConfiguration(conninfo: "host=127.0.0.1 port=\(port) user=postgres", password: secret),
        ]
        for configuration in configurations {
            let error = try await #require(throws: PostgresError.self) {
                try await PostgresConnection.connect(configuration, logger: PostgresServer.logger)
            }
            #expect(error.code == .connectionFailed)
            #expect(error.isRetryable, "a server that is down may come up")
            #expect(!error.description.contains(secret))
            #expect(!error.message.contains(secret))
            #expect(!"\(configuration)".contains(secret))
        }
    }

    @Test("an unparsable conninfo is reported without quoting it")
    func badConninfo() async throws {
        let error = try await #require(throws: PostgresError.self) {
            try await PostgresConnection.connect("password=hunter2-secret oops", logger: PostgresServer.logger)
        }
        #expect(error.code == .invalidConfiguration)
        #expect(!error.description.contains("hunter2"))
    }

    @Test("a wrong database is a permanent connection failure")
    func missingDatabase() async throws {
        try await PostgresServer.shared.start()
        let port = try #require(await PostgresServer.shared.port)
        let error = try await #require(throws: PostgresError.self) {
            try await PostgresConnection.connect(
                "host=127.0.0.1 port=\(port) user=postgres dbname=no_such_database_here", logger: PostgresServer.logger
            )
        }
        #expect(error.code == .connectionFailed)
        #expect(error.message.contains("no_such_database_here"))
        #expect(!error.isRetryable)
    }

    @Test("SQLState classes and retryability", arguments: [
        (SQLState.serializationFailure, true), (.deadlockDetected, true), (.adminShutdown, true),
        (.cannotConnectNow, true), (.connectionFailure, true), (.uniqueViolation, false), (.syntaxError, false),
    ])
    func retryable(state: SQLState, retryable: Bool) {
        #expect(state.isRetryable == retryable)
        #expect(PostgresError(code: .queryFailed, message: "m", sqlState: state).isRetryable == retryable)
    }
}
