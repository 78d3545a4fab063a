/// One step of the schema: a version number, a name for people, and SQL run once inside the migration
/// transaction. `{schema}` in the SQL stands for the quoted schema name (the only thing ever substituted).
/// Inside PL/pgSQL (`DO $$ … $$`) never use `{schema}`: read the name from the setting
/// `current_setting('kappa.migration_schema')` (`SchemaMigration.schemaSetting`) and quote it with
/// `format('%I')`, so no schema name can end a string or a dollar quote.
public struct SchemaMigration: Sendable {
    public var version: Int
    public var name: String
    public var sqlTemplate: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sqlTemplate = sql
    }

    /// The transaction-local setting that holds the schema's unquoted name while migrations run.
    public static let schemaSetting = "kappa.migration_schema"

    func sql(schema: PostgresIdentifier) -> String {
        sqlTemplate.replacing("{schema}", with: schema.quoted)
    }
}

/// Whether a migration has run, for `kappa db status`.
public struct SchemaMigrationStatus: Sendable, Hashable {
    public var version: Int
    public var name: String
    /// When it was applied; nil while pending.
    public var appliedAt: String?

    public var isApplied: Bool { appliedAt != nil }
}
