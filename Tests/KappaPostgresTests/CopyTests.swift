import KappaCore
import KappaPostgres
import KappaTestSupport
import Testing

@Suite("COPY FROM STDIN in binary format")
struct CopyTests {
    @Test("100 000 rows arrive complete, in flushed chunks")
    func bulkCopy() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "copy")
        let connection = try await database.connect()
        try await connection.execute(
            "CREATE TABLE readings (device text, metric text, at timestamptz, value double precision, seq int4, note text)"
        )
        let rowCount = 100_000
        let base = Timestamp(secondsSinceEpoch: 1_732_400_000)
        var flushes = 0
        let copied = try await connection.copyFrom(
            table: "readings", columns: ["device", "metric", "at", "value", "seq", "note"], flushThreshold: 64 * 1024
        ) { rows in
            for index in 0..<rowCount {
                rows.beginRow(fieldCount: 6)
                rows.append("device-\(index % 100)")
                rows.append("temperature")
                rows.append(base.adding(nanoseconds: Int64(index) * 1_000_000))
                rows.append(Double(index) * 0.5)
                rows.append(Int32(index))
                if index % 10 == 0 { rows.appendNull() } else { rows.append("Zürich 🌡") }
                if rows.encoder.bytes.count >= rows.flushThreshold { flushes += 1 }
                try await rows.flushIfNeeded()
            }
        }
        #expect(copied == rowCount)
        #expect(flushes > 10, "the rows went out in chunks, not one buffer")

        let summary = try await connection.query(
            """
            SELECT count(*) AS rows, sum(value) AS total, sum(seq::int8) AS seqs, count(note) AS notes,
                   count(DISTINCT device) AS devices, min(at) AS first, max(at) AS last
            FROM readings
            """
        )[0]
        let n = Int64(rowCount)
        #expect(try summary["rows"].int64 == n)
        #expect(try summary["total"].double == Double(n * (n - 1) / 2) * 0.5)
        #expect(try summary["seqs"].int64 == n * (n - 1) / 2)
        #expect(try summary["notes"].int64 == n - n / 10)
        #expect(try summary["devices"].int64 == 100)
        #expect(try summary["first"].timestamp == base)
        #expect(try summary["last"].timestamp == base.adding(nanoseconds: (n - 1) * 1_000_000))
        await connection.close()
    }

    @Test("every value type survives COPY")
    func copyTypes() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "copytypes")
        let connection = try await database.connect()
        try await connection.execute(
            "CREATE TABLE t (i int8, d float8, b bool, s text, y bytea, at timestamptz, j jsonb, n int8)"
        )
        let moment = Timestamp(microsecondsSinceEpoch: -123_456_789)
        let bytes = (0...255).map { UInt8($0) }
        let copied = try await connection.copyFrom(table: "t", columns: ["i", "d", "b", "s", "y", "at", "j", "n"]) { rows in
            rows.appendRow([.int64(.min), .double(-0.0), .bool(true), .text("東京"), .bytea(bytes), .timestamptz(moment),
                            .jsonb(#"{"k": 1}"#), .null])
        }
        #expect(copied == 1)
        let row = try await connection.query("SELECT i, d, b, s, y, at, j->>'k' AS k, n FROM t")[0]
        #expect(try row["i"].int64 == .min)
        #expect(try row["d"].double.bitPattern == (-0.0).bitPattern)
        #expect(try row["b"].bool)
        #expect(try row["s"].string == "東京")
        #expect(try row["y"].bytes == bytes)
        #expect(try row["at"].timestamp == moment)
        #expect(try row["k"].string == "1")
        #expect(row["n"].isNull)
        await connection.close()
    }

    @Test("a throwing producer leaves no row behind and the connection usable")
    func abortedCopy() async throws {
        struct ProducerFailed: Error {}
        let database = try await PostgresServer.shared.makeDatabase(prefix: "copyabort")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE t (v int8)")
        await #expect(throws: ProducerFailed.self) {
            _ = try await connection.copyFrom(table: "t", columns: ["v"], flushThreshold: 16) { rows in
                for value in 0..<1000 {
                    rows.appendRow([.int64(Int64(value))])
                    try await rows.flushIfNeeded()
                }
                throw ProducerFailed()
            }
        }
        #expect(try await connection.query("SELECT count(*) FROM t")[0][0].int64 == 0)
    }

    @Test("a row the server rejects fails the COPY with its SQLSTATE")
    func rejectedCopy() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "copyreject")
        let connection = try await database.connect()
        try await connection.execute("CREATE TABLE t (v int8 PRIMARY KEY)")
        let error = try await #require(throws: PostgresError.self) {
            _ = try await connection.copyFrom(table: "t", columns: ["v"]) { rows in
                rows.appendRow([1])
                rows.appendRow([1])
            }
        }
        #expect(error.code == .copyFailed)
        #expect(error.sqlState == .uniqueViolation)
        // A field of the wrong binary width for its column is the server's to reject too.
        let width = try await #require(throws: PostgresError.self) {
            _ = try await connection.copyFrom(table: "t", columns: ["v"]) { rows in
                rows.beginRow(fieldCount: 1)
                rows.append(Int32(5))
            }
        }
        #expect(width.code == .copyFailed)
        #expect(width.sqlState == .protocolViolation)
        #expect(!width.isRetryable, "bad data stays bad")
        #expect(try await connection.query("SELECT count(*) FROM t")[0][0].int64 == 0)
        await connection.close()
    }

    @Test("a bytea field is the same from an array, a slice, raw bytes, or a collection that is not contiguous")
    func byteaFromEveryCollection() {
        let payload = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        func generic(_ bytes: some Collection<UInt8>, _ encoder: inout PostgresBinaryCopyEncoder) { encoder.append(bytes: bytes) }
        let forms: [(name: String, bytes: [UInt8], append: (inout PostgresBinaryCopyEncoder) -> Void)] = [
            ("array", payload, { $0.append(bytes: payload) }),
            ("array through a generic caller", payload, { generic(payload, &$0) }),
            ("slice", Array(payload[10...]), { $0.append(bytes: payload[10...]) }),
            ("raw", payload, { encoder in payload.withUnsafeBytes { encoder.append(bytes: $0) } }),
            ("lazy map, not contiguous", payload, { $0.append(bytes: payload.lazy.map { $0 }) }),
        ]
        var empty = PostgresBinaryCopyEncoder()
        empty.beginRow(fieldCount: 1)
        for form in forms {
            var encoder = PostgresBinaryCopyEncoder()
            encoder.beginRow(fieldCount: 1)
            form.append(&encoder)
            // After the header and row start: the field's length (big-endian), then its bytes.
            let field = withUnsafeBytes(of: Int32(form.bytes.count).bigEndian, Array.init) + form.bytes
            #expect(Array(encoder.bytes.dropFirst(empty.bytes.count)) == field, "\(form.name)")
        }
    }

    @Test("the encoder writes the PGCOPY header, field lengths and trailer")
    func encoderLayout() {
        var encoder = PostgresBinaryCopyEncoder()
        encoder.beginRow(fieldCount: 2)
        encoder.append(Int64(1))
        encoder.appendNull()
        encoder.appendTrailer()
        let expected: [UInt8] =
            Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
            + [0, 2] + [0, 0, 0, 8] + [0, 0, 0, 0, 0, 0, 0, 1] + [0xFF, 0xFF, 0xFF, 0xFF] + [0xFF, 0xFF]
        #expect(encoder.bytes == expected)
        let taken = encoder.takeBytes()
        #expect(taken == expected)
        #expect(encoder.bytes.isEmpty)
    }
}
