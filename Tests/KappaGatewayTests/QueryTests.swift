import KappaGateway
import KappaPostgres
import KappaTestSupport
import Logging
import Testing

/// `kappa query`'s statements against a migrated schema, and its three formats, on rows from real PostgreSQL.
@Suite("query views and row formats")
struct QueryTests {
    static let logger = Logger(label: "kappa.test.query", factory: { _ in SwiftLogNoOpLogHandler() })

    static func rows(_ sql: String, in database: PostgresTestDatabase) async throws -> PostgresRows {
        try await PostgresConnection.withConnection(PostgresConfiguration(conninfo: database.conninfo), logger: logger) { connection in
            try await connection.query(sql)
        }
    }

    static let sample = """
        SELECT * FROM (VALUES
            (1::int8, 'pump-1'::text, 21.5::float8, NULL::text),
            (22, 'a,"b"', 'NaN', 'x')
        ) AS t(n, device, value, note)
        """

    @Test("table: columns padded to the widest cell, a rule under the header, no trailing spaces")
    func table() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "rowtable")
        let text = try RowFormatter.format(try await Self.rows(Self.sample, in: database), as: .table)
        #expect(text == """
            n   device  value  note
            --  ------  -----  ----
            1   pump-1  21.5
            22  a,"b"   NaN    x

            """)
    }

    @Test("csv: RFC 4180 quoting, NULL as an empty field")
    func csv() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "rowcsv")
        let text = try RowFormatter.format(try await Self.rows(Self.sample, in: database), as: .csv)
        #expect(text == "n,device,value,note\n1,pump-1,21.5,\n22,\"a,\"\"b\"\"\",NaN,x\n")
    }

    @Test("json: finite numbers as numbers, NaN and text as strings, NULL as null")
    func json() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "rowjson")
        let text = try RowFormatter.format(try await Self.rows(Self.sample, in: database), as: .json)
        #expect(text == """
            [{"n":1,"device":"pump-1","value":21.5,"note":null},
            {"n":22,"device":"a,\\"b\\"","value":"NaN","note":"x"}]

            """)
    }

    @Test("every view query runs on a freshly migrated schema and has the documented columns", .timeLimit(.minutes(1)))
    func viewQueries() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "views")
        let kappa = KappaDatabase(configuration: PostgresConfiguration(conninfo: database.conninfo), schema: "query_views")
        try await kappa.migrate(logger: Self.logger)
        let rollupColumns = ["device", "metric", "bucket", "count", "sum", "min", "max", "mean", "stddev", "first_value", "first_time", "last_value", "last_time", "p50", "p90", "p99", "unit"]
        for granularity in ViewQuery.granularities {
            let rows = try await ViewQuery.rollups(granularity: granularity, device: "d", metric: nil, since: "2025-01-01T00:00:00Z", until: nil)
                .rows(in: kappa, logger: Self.logger)
            #expect(rows.columns.map(\.name) == rollupColumns)
            #expect(rows.isEmpty)
        }
        #expect(try await ViewQuery.latest(device: nil).rows(in: kappa, logger: Self.logger).columns.map(\.name) == ["device", "metric", "time", "value"])
        #expect(try await ViewQuery.devices().rows(in: kappa, logger: Self.logger).columns.map(\.name) == ["device", "first_seen", "last_seen", "readings", "status", "tags"])
        let anomalies = try await ViewQuery.anomalies(device: nil, openOnly: true, since: nil, limit: 5).rows(in: kappa, logger: Self.logger)
        #expect(anomalies.columns.map(\.name) == ["device", "metric", "start_time", "detected_at", "end_time", "detector", "peak_score", "value", "expected_low", "expected_high", "severity"])
    }

    @Test("a schema that was never migrated: the query fails with PostgreSQL's error rather than creating anything")
    func unmigratedSchema() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "viewsbare")
        let kappa = KappaDatabase(configuration: PostgresConfiguration(conninfo: database.conninfo), schema: "never_migrated")
        await #expect(throws: PostgresError.self) { try await ViewQuery.devices().rows(in: kappa, logger: Self.logger) }
        let schemas = try await Self.rows("SELECT count(*) FROM pg_namespace WHERE nspname = 'never_migrated'", in: database)
        #expect(try schemas[0][0].int64 == 0)
    }

    @Test("ping: the server's version, where it connected, times in milliseconds with two decimals; no server is named by where the settings came from")
    func ping() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "ping")
        let report = try await DatabasePing.measure(PostgresConfiguration(conninfo: database.conninfo), source: "--database", logger: Self.logger)
        let version = try await Self.rows("SHOW server_version", in: database)[0][0].string
        #expect(version.hasPrefix(report.serverVersion))
        #expect(report.target.contains(":\(database.port)/\(database.name)"))
        #expect(report.description.hasPrefix("PostgreSQL \(report.serverVersion) at \(report.target): connected in "))
        let fixed = DatabasePing(serverVersion: "16.4", target: "postgres@127.0.0.1:5432/kappa", connectTime: .microseconds(12_345), roundTripTime: .nanoseconds(999_999))
        #expect(fixed.description == "PostgreSQL 16.4 at postgres@127.0.0.1:5432/kappa: connected in 12.34 ms, round trip 0.99 ms")
        let closedPort = PostgresConfiguration(conninfo: "host=127.0.0.1 port=\(LoopbackPort.free()) dbname=kappa", connectTimeoutSeconds: 1)
        await #expect {
            try await DatabasePing.measure(closedPort, source: "$KAPPA_DATABASE", logger: Self.logger)
        } throws: { error in
            (error as? DatabasePing.Unreachable)?.description.hasPrefix("cannot reach PostgreSQL (settings from $KAPPA_DATABASE): ") == true
        }
    }
}
