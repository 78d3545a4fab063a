import KappaPostgres
import KappaStorage

/// The rule for the schema name: an identifier PostgreSQL keeps as given (``PostgresIdentifier/problem(with:)``).
/// Checked where it is read (flag, environment, file) so a bad one is a message, never a failed precondition
/// further down.
public enum SchemaName {
    public static func check(_ name: String) throws(SettingsError) -> String {
        if let problem = PostgresIdentifier.problem(with: name) {
            throw SettingsError("the schema name is unusable: \(problem)")
        }
        return name
    }
}

extension SchemaName {
    /// The schema of a command other than `kappa run`: `--schema`, else `$KAPPA_SCHEMA`, else `kappa`; each
    /// checked, the message naming where the bad one came from.
    public static func resolve(flag: String?, environment: [String: String]) throws(SettingsError) -> String {
        if let flag {
            do { return try check(flag) } catch { throw SettingsError("--schema: \(error)") }
        }
        if let fromEnvironment = environment["KAPPA_SCHEMA"] {
            do { return try check(fromEnvironment) } catch { throw SettingsError("KAPPA_SCHEMA: \(error)") }
        }
        return KappaSchema.defaultSchema
    }
}
