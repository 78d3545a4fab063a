/// The rule for the schema name: something PostgreSQL keeps as given. Checked where it is read (flag,
/// environment, file) so a bad one is a message, never a failed precondition further down.
public enum SchemaName {
    /// PostgreSQL truncates identifiers beyond NAMEDATALEN - 1 bytes, which would silently name another schema.
    public static let maximumBytes = 63

    public static func check(_ name: String) throws(SettingsError) -> String {
        guard !name.isEmpty else { throw SettingsError("the schema name is empty") }
        guard name.utf8.count <= maximumBytes else {
            throw SettingsError("the schema name is \(name.utf8.count) bytes; PostgreSQL keeps at most \(maximumBytes)")
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw SettingsError("the schema name contains a control character")
        }
        return name
    }
}
