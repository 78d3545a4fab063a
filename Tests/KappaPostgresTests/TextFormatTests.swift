import KappaCore
import KappaPostgres
import KappaTestSupport
import Testing

@Suite("Reading PostgreSQL's text output")
struct TextFormatTests {
    @Test("timestamps with other zone offsets, BC, dates and timestamps without zone decode to the same instant")
    func timestampForms() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "textformat")
        let connection = try await database.connect()
        let instant = Timestamp(microsecondsSinceEpoch: 1_732_400_000_654_321)
        for zone in ["Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Africa/Monrovia"] {
            try await connection.execute("SELECT set_config('TimeZone', $1, false)", [.text(zone)])
            // 1972 in Monrovia is UTC-00:44:30: an offset with seconds.
            let rows = try await connection.query(
                "SELECT $1::timestamptz AS now, '1972-01-01 00:00:00+00'::timestamptz AS old, $1::timestamptz::text AS shown",
                [.timestamptz(instant)]
            )
            let shown = try rows[0]["shown"].string
            #expect(try rows[0]["now"].timestamp == instant, "in \(zone), shown as \(shown)")
            #expect(try rows[0]["old"].timestamp == Timestamp(secondsSinceEpoch: 63_072_000))
        }
        try await connection.execute("SET TimeZone = 'UTC'")
        let rows = try await connection.query(
            """
            SELECT '2024-02-29'::date AS day, '2024-02-29 12:00:00.5'::timestamp AS naive,
                   '0044-03-15 12:00:00+00 BC'::timestamptz AS ides, '1700-03-01 00:00:00.000001+00'::timestamptz AS early, 'infinity'::timestamptz AS forever,
                   'NaN'::float8 AS nan, '-Infinity'::float8 AS minus, 1e300::float8 * 10 AS big
            """
        )
        let row = rows[0]
        #expect(try row["day"].timestamp == CivilTime(year: 2024, month: 2, day: 29).timestamp)
        #expect(try row["naive"].timestamp == CivilTime(year: 2024, month: 2, day: 29, hour: 12, nanosecond: 500_000_000).timestamp)
        // A Timestamp counts nanoseconds in 64 bits: 1677 to 2262. Outside, decoding fails instead of wrapping.
        #expect(throws: PostgresError.self) { try row["ides"].timestamp }
        #expect(try row["early"].timestamp == CivilTime(year: 1700, month: 3, day: 1, nanosecond: 1_000).timestamp)
        #expect(throws: PostgresError.self) { try row["forever"].timestamp }
        #expect(try row["nan"].double.isNaN)
        #expect(try row["minus"].double == -.infinity)
        #expect(try row["big"].double == 1e301)
        await connection.close()
    }

    @Test("bytea decodes from hex of any case and length; text that is not hex bytea is refused")
    func byteaForms() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "byteaform")
        let connection = try await database.connect()
        let rows = try await connection.query(
            #"""
            SELECT ''::bytea AS empty, '\xDEADbeef09'::bytea AS mixed, '\xDEADbeef09'::text AS upper,
                   '\x0g'::text AS notHex, '\xabc'::text AS odd, 'x00'::text AS unmarked, '\x:0'::text AS colon
            """#
        )
        let row = rows[0]
        #expect(try row["empty"].bytes == [])
        #expect(try row["mixed"].bytes == [0xDE, 0xAD, 0xBE, 0xEF, 0x09])
        #expect(try row["upper"].bytes == [0xDE, 0xAD, 0xBE, 0xEF, 0x09])
        for column in ["notHex", "odd", "unmarked", "colon"] {
            #expect(throws: PostgresError.self, "\(column)") { try row[column].bytes }
        }
        await connection.close()
    }
}
