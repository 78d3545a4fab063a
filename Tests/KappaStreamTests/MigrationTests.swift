import KappaPostgres
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
