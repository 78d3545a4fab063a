import KappaPostgres
import KappaStorage
import KappaTestSupport
import Testing

@Suite struct MigrationTests {
    @Test func migratingTwiceIsANoOp() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "migrate")
        let connection = try await database.connect()
        let migrator = SchemaMigrator(schema: PostgresIdentifier("Custom Schema"))
        let before = try await migrator.status(connection)
        #expect(before.allSatisfy { !$0.isApplied })
        let first = try await migrator.migrate(connection)
        #expect(first.map(\.version) == KappaSchema.migrations.map(\.version))
        let objects = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'Custom Schema'"
        let countAfterFirst = try await connection.query(objects).first?[0].int
        let second = try await migrator.migrate(connection)
        #expect(second.isEmpty)
        #expect(try await connection.query(objects).first?[0].int == countAfterFirst)
        let status = try await migrator.status(connection)
        #expect(status.count == KappaSchema.migrations.count && status.allSatisfy(\.isApplied))
        // The operator surface: views with exactly the documented columns.
        let columns = try await connection.query(
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'Custom Schema' AND table_name = $1",
            ["rollups_1m"]
        )
        #expect(try columns.first?[0].string.hasPrefix("device,metric,bucket,count,sum,min,max,mean,stddev,first_value,first_time,last_value,last_time") == true)
        // Anomaly snapshots are stored without compression ('e': external).
        let storage = try await connection.query(
            "SELECT attstorage::text FROM pg_attribute WHERE attrelid = '\"Custom Schema\".anomaly_state_v1'::regclass AND attname = 'snapshot'"
        )
        #expect(try storage.first?[0].string == "e")
        await connection.close()
    }

    /// A schema name is only ever quoted as an identifier: names that end a string literal, a dollar quote
    /// or a statement migrate like any other, and nothing in them runs.
    @Test(arguments: ["o'brien", "z'; SELECT pg_sleep(3); --", "a$$b", "q\"uote", "$x", "vé"])
    func hostileSchemaNamesMigrate(_ name: String) async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "migrate_name")
        let connection = try await database.connect()
        let schema = try PostgresIdentifier.validated(name)
        let applied = try await SchemaMigrator(schema: schema).migrate(connection)
        #expect(applied.map(\.version) == KappaSchema.migrations.map(\.version))
        let storage = try await connection.query(
            "SELECT attstorage::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'snapshot'",
            [.text(PostgresIdentifier("anomaly_state_v1").qualified(in: schema))]
        )
        #expect(try storage.first?[0].string == "e")
        let letters = try await connection.query(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dead_letters' AND column_name IN ('payload_size', 'payload_sha256')",
            [.text(name)]
        )
        #expect(try letters.first?[0].int == 2)
        // Nothing but Kappa's schema was made: no statement hidden in the name ran.
        let schemas = try await connection.query("SELECT count(*) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('public', 'information_schema')")
        #expect(try schemas.first?[0].int == 1)
        #expect(try await SchemaMigrator(schema: schema).migrate(connection).isEmpty)
        await connection.close()
    }

    @Test(arguments: ["", String(repeating: "s", count: 64), "nul\u{0}", "line\nbreak"])
    func unusableSchemaNamesAreRefusedWithAReason(_ name: String) {
        #expect(throws: PostgresIdentifierError.self) { try PostgresIdentifier.validated(name) }
    }

    @Test func theCappedPayloadMigrationAddsTheColumnsToEveryDeadLetterVersion() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "migrate_dead_letters")
        let connection = try await database.connect()
        let before = SchemaMigrator(schema: PostgresIdentifier(KappaSchema.defaultSchema), migrations: KappaSchema.migrations.filter { $0.version < 10 })
        try await before.migrate(connection)
        try await connection.executeScript(
            """
            INSERT INTO kappa.dead_letters_v1 VALUES (0, 1, now(), 't', '\\x0102', 'no_readings', 'm');
            CREATE TABLE kappa.dead_letters_v2 (LIKE kappa.dead_letters_v1 INCLUDING ALL)
            """
        )
        try await SchemaMigrator().migrate(connection)
        let rows = try await rowsAsText(connection, "SELECT payload_size::text, coalesce(payload_sha256::text, 'null') FROM kappa.dead_letters")
        #expect(rows == [["2", "null"]])
        let columns = try await connection.query(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'kappa' AND table_name = 'dead_letters_v2' AND column_name = 'payload_size'"
        )
        #expect(try columns.first?[0].int == 1)
        await connection.close()
    }

    @Test func concurrentMigrationsDoNotRace() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "migrate_race")
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    let connection = try await database.connect()
                    let applied = try await SchemaMigrator().migrate(connection)
                    await connection.close()
                    return applied.count
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(applied.sorted() == [0, 0, KappaSchema.migrations.count])
    }
}
