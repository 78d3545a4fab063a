/// Creates and upgrades a schema with versioned migrations recorded in `schema_migrations` (the migrations
/// themselves are the caller's: Kappa's are `KappaSchema.migrations` in `KappaStorage`).
///
/// All pending migrations run in one transaction under a transaction-scoped advisory lock, so two processes
/// starting at once do not race (the second waits, then finds nothing left to do), and a failing migration
/// leaves the schema as it was. Running it again is a no-op.
public struct SchemaMigrator: Sendable {
    public let schema: PostgresIdentifier
    public let migrations: [SchemaMigration]

    /// Any fixed number works as long as every process migrating the database uses it: it names "the migration lock".
    static let advisoryLockKey: Int64 = 0x6B61_7070_615F_6D67

    public init(schema: PostgresIdentifier, migrations: [SchemaMigration]) {
        self.schema = schema
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Applies what is pending and returns the versions it applied (empty when the schema was current).
    @discardableResult
    public func migrate(_ connection: PostgresConnection) async throws -> [SchemaMigrationStatus] {
        try await connection.withTransaction { connection in
            try await connection.execute("SELECT pg_advisory_xact_lock($1)", [.int64(Self.advisoryLockKey)])
            // A bound parameter, so the name reaches PL/pgSQL without being pasted into any SQL text.
            try await connection.execute("SELECT set_config($1, $2, true)", [.text(SchemaMigration.schemaSetting), .text(schema.name)])
            try await connection.executeScript(
                """
                CREATE SCHEMA IF NOT EXISTS \(schema.quoted);
                CREATE TABLE IF NOT EXISTS \(table) (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            let applied = try await appliedVersions(connection)
            var done: [SchemaMigrationStatus] = []
            for migration in migrations where applied[migration.version] == nil {
                try await connection.executeScript(migration.sql(schema: schema))
                let rows = try await connection.query(
                    "INSERT INTO \(table) (version, name) VALUES ($1, $2) RETURNING applied_at::text",
                    [.int64(Int64(migration.version)), .text(migration.name)]
                )
                done.append(SchemaMigrationStatus(version: migration.version, name: migration.name, appliedAt: try rows.first?[0].string))
            }
            return done
        }
    }

    /// Every known migration with its applied time, or pending; plus versions the database has that this
    /// build does not know (a newer gateway migrated it).
    public func status(_ connection: PostgresConnection) async throws -> [SchemaMigrationStatus] {
        let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(table)])
        let applied = try await exists.first?[0].bool == true ? appliedVersions(connection) : [:]
        var statuses = migrations.map { SchemaMigrationStatus(version: $0.version, name: $0.name, appliedAt: applied[$0.version]?.appliedAt) }
        let known = Set(migrations.map(\.version))
        for (version, entry) in applied where !known.contains(version) {
            statuses.append(SchemaMigrationStatus(version: version, name: entry.name, appliedAt: entry.appliedAt))
        }
        return statuses.sorted { $0.version < $1.version }
    }

    private var table: String { PostgresIdentifier("schema_migrations").qualified(in: schema) }

    private func appliedVersions(_ connection: PostgresConnection) async throws -> [Int: (name: String, appliedAt: String)] {
        let rows = try await connection.query("SELECT version, name, applied_at::text FROM \(table)")
        var result: [Int: (name: String, appliedAt: String)] = [:]
        for row in rows {
            result[try row[0].int] = (try row[1].string, try row[2].string)
        }
        return result
    }
}
