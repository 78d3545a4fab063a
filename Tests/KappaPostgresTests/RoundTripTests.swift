import KappaCore
import KappaPostgres
import KappaTestSupport
import Testing

@Suite("Parameters and rows against a real PostgreSQL")
struct RoundTripTests {
    @Test("every parameter type comes back exactly, NULLs included")
    func typedRoundTrip() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "roundtrip")
        let connection = try await database.connect()
        try await connection.execute(
            """
            CREATE TABLE samples (
                id bigint PRIMARY KEY, label text, amount double precision, flag boolean,
                payload bytea, at timestamptz, extra jsonb
            )
            """
        )
        let allBytes = (0...255).map { UInt8($0) }
        let moment = Timestamp(nanosecondsSinceEpoch: 1_732_400_000_123_456_789)
        let samples: [(Int64, String?, Double?, Bool?, [UInt8]?, Timestamp?, String?)] = [
            (1, "Zürich 東京 🌡", -0.0, true, allBytes, moment, #"{"a": [1, 2]}"#),
            (2, "", 1.7976931348623157e308, false, [], Timestamp(nanosecondsSinceEpoch: -1_500), nil),
            (3, "quote ' and \" and \\ and $1", Double.leastNonzeroMagnitude, nil, nil, nil, nil),
            (Int64.min, nil, 0.1 + 0.2, nil, [0], Timestamp(secondsSinceEpoch: 0), nil),
            (Int64.max, "tab\tnewline\n", nil, true, nil, Timestamp(microsecondsSinceEpoch: 253_402_300_799_999_999), nil),
        ]
        for sample in samples {
            let inserted = try await connection.execute(
                "INSERT INTO samples VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [.int64(sample.0), .init(sample.1), .init(sample.2), .init(sample.3), .init(sample.4),
                 .init(sample.5), sample.6.map { .jsonb($0) } ?? .null]
            )
            #expect(inserted == 1)
        }

        for sample in samples {
            let rows = try await connection.query(
                "SELECT id, label, amount, flag, payload, at, extra FROM samples WHERE id = $1", [.int64(sample.0)]
            )
            let row = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(try row["id"].int64 == sample.0)
            #expect(try row["label"].decode(String?.self) == sample.1)
            let amount = try row["amount"].decode(Double?.self)
            #expect(amount?.bitPattern == sample.2?.bitPattern, "doubles travel bit-exactly, -0.0 included")
            #expect(try row["flag"].decode(Bool?.self) == sample.3)
            #expect(try row["payload"].decode([UInt8]?.self) == sample.4)
            let expectedTime = sample.5.map { Timestamp(microsecondsSinceEpoch: $0.microsecondsSinceEpoch) }
            #expect(try row["at"].decode(Timestamp?.self) == expectedTime, "PostgreSQL keeps microseconds")
            #expect(row["extra"].isNull == (sample.6 == nil))
        }
        let jsonKey = try await connection.query("SELECT extra -> 'a' ->> 1 AS second FROM samples WHERE id = 1")
        #expect(try jsonKey[0]["second"].string == "2")
        await connection.close()
    }

    @Test("the server sees binary parameters as the values they are")
    func serverSideValues() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "serverside")
        let connection = try await database.connect()
        let rows = try await connection.query(
            "SELECT $1::int8 + 1 AS next, $2 * 2 AS doubled, extract(epoch FROM $3::timestamptz)::text AS epoch, "
                + "octet_length($4) AS length, $5::text AS text, $6::numeric * 2 AS numeric",
            [41, 1.25, .timestamptz(Timestamp(microsecondsSinceEpoch: 1_500_000)), .bytea([1, 2, 3]), "x", .untyped("1.5")]
        )
        let row = rows[0]
        #expect(try row["next"].int64 == 42)
        #expect(try row["doubled"].double == 2.5)
        #expect(try row["epoch"].string == "1.500000")
        #expect(try row["length"].int == 3)
        #expect(try row["text"].string == "x")
        #expect(try row["numeric"].string == "3.0")
        await connection.close()
    }

    @Test("session: UTC, ISO dates, application name, URL form of conninfo")
    func sessionSettings() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "session")
        let url = "postgres://postgres@127.0.0.1:\(database.port)/\(database.name)"
        let connection = try await PostgresConnection.connect(url, logger: PostgresServer.logger)
        let rows = try await connection.query(
            "SELECT current_setting('TimeZone') AS zone, current_setting('DateStyle') AS style, "
                + "current_setting('application_name') AS app, current_database() AS db"
        )
        #expect(try rows[0]["zone"].string == "UTC")
        #expect(try rows[0]["style"].string.hasPrefix("ISO"))
        #expect(try rows[0]["app"].string == "kappa")
        #expect(try rows[0]["db"].string == database.name)
        #expect(connection.serverVersion.hasPrefix("\(connection.serverVersionNumber / 10_000)."))
        #expect(await connection.target().contains(database.name))
        await connection.close()
    }

    @Test("decoding errors name the column, its type and the value")
    func decodingErrors() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "decoding")
        let connection = try await database.connect()
        let rows = try await connection.query("SELECT 'abc'::text AS label, NULL::int8 AS missing")
        let notANumber = try #require(throws: PostgresError.self) { try rows[0]["label"].int64 }
        #expect(notANumber.code == .decoding)
        #expect(notANumber.message.contains("label") && notANumber.message.contains("text"))
        #expect(notANumber.message.contains("abc"))
        let null = try #require(throws: PostgresError.self) { try rows[0]["missing"].int64 }
        #expect(null.message.contains("missing") && null.message.contains("NULL"))
        let noColumn = try #require(throws: PostgresError.self) { try rows[0]["nope"].string }
        #expect(noColumn.message.contains("nope"))
        await connection.close()
    }

    @Test("identifiers are quoted, so schema names with odd characters work")
    func identifierQuoting() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "identifiers")
        let connection = try await database.connect()
        let schema = PostgresIdentifier(#"Kappa "v2"; DROP"#)
        let table = PostgresIdentifier("readings")
        try await connection.execute("CREATE SCHEMA \(schema.quoted)")
        try await connection.execute("CREATE TABLE \(table.qualified(in: schema)) (v int8)")
        try await connection.execute("INSERT INTO \(table.qualified(in: schema)) VALUES ($1)", [7])
        let rows = try await connection.query("SELECT nspname FROM pg_namespace WHERE nspname = $1", [.text(schema.name)])
        #expect(try rows[0][0].string == schema.name)
        await connection.close()
    }
}
