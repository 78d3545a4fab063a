import KappaPostgres
import KappaTestSupport
import Testing

@Suite("Transactions and pipelined batches")
struct TransactionTests {
    struct Abort: Error {}

    @Test("a throw rolls back everything, a return commits everything")
    func rollbackAndCommit() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "transactions")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE t (v int8)")

        await #expect(throws: Abort.self) {
            try await connection.withTransaction { transaction in
                try await transaction.execute("INSERT INTO t VALUES ($1), ($2)", [1, 2])
                _ = try await transaction.copyFrom(table: "t", columns: ["v"]) { $0.appendRow([3]) }
                throw Abort()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM t")[0][0].int64 == 0)

        let inserted = try await connection.withTransaction(.serializable) { transaction in
            let level = try await transaction.query("SELECT current_setting('transaction_isolation')")
            #expect(try level[0][0].string == "serializable")
            let rows = try await transaction.execute("INSERT INTO t VALUES ($1), ($2)", [1, 2])
            _ = try await transaction.copyFrom(table: "t", columns: ["v"]) { $0.appendRow([3]) }
            return rows + 1
        }
        #expect(inserted == 3)
        #expect(try await connection.query("SELECT sum(v) FROM t")[0][0].int64 == 6)
        await connection.close()
    }

    @Test("a failed statement swallowed inside the transaction makes the commit throw")
    func swallowedFailure() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "swallowed")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE t (v int8 PRIMARY KEY)")
        let error = try await #require(throws: PostgresError.self) {
            try await connection.withTransaction { transaction in
                try await transaction.execute("INSERT INTO t VALUES (1)")
                _ = try? await transaction.execute("INSERT INTO t VALUES (1)")
            }
        }
        #expect(error.sqlState == .inFailedSQLTransaction)
        #expect(try await connection.query("SELECT count(*) FROM t")[0][0].int64 == 0)
        await connection.close()
    }

    @Test("a pipelined batch returns each statement's count, and fails as a whole")
    func batch() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "batch")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE rollups (device text PRIMARY KEY, count int8 NOT NULL)")
        let upsert = "INSERT INTO rollups VALUES ($1, $2) ON CONFLICT (device) DO UPDATE SET count = rollups.count + EXCLUDED.count"
        let statements = (0..<5_000).map { PostgresStatement(upsert, [.text("d\($0 % 1_000)"), 1]) }
        let counts = try await connection.executeBatch(statements)
        #expect(counts == Array(repeating: 1, count: 5_000))
        let totals = try await connection.query("SELECT count(*), sum(count) FROM rollups")[0]
        #expect(try totals[0].int64 == 1_000)
        #expect(try totals[1].int64 == 5_000)

        let failing = [
            PostgresStatement(upsert, ["new-device", 1]),
            PostgresStatement("INSERT INTO rollups VALUES ($1, NULL)", ["broken"]),
            PostgresStatement(upsert, ["other-device", 1]),
        ]
        let error = try await #require(throws: PostgresError.self) { try await connection.executeBatch(failing) }
        #expect(error.sqlState == .notNullViolation)
        #expect(error.statementIndex == 1)
        let after = try await connection.query("SELECT count(*) FROM rollups WHERE device IN ('new-device', 'other-device')")
        #expect(try after[0][0].int64 == 0, "the batch is one implicit transaction")

        // Inside a transaction the batch commits with it.
        try await connection.withTransaction { transaction in
            _ = try await transaction.executeBatch([PostgresStatement(upsert, ["in-transaction", 1])])
            try await transaction.execute("INSERT INTO rollups VALUES ($1, $2)", ["after-batch", 2])
        }
        #expect(try await connection.query("SELECT count(*) FROM rollups WHERE device LIKE '%-%'")[0][0].int64 == 2)
        await connection.close()
    }
}
