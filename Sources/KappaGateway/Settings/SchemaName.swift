import KappaPostgres

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
