/// A name (schema, table, column) quoted for SQL: `PostgresIdentifier("kappa").quoted` is `"kappa"`.
///
/// Names cannot be query parameters, so configurable ones (the schema, versioned output tables) go into SQL
/// text through this type, never by pasting the raw string. Quoting keeps the exact spelling (case included).
public struct PostgresIdentifier: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    /// - Precondition: `name` is not empty and has no NUL character (PostgreSQL cannot store either).
    public init(_ name: String) {
        precondition(!name.isEmpty && !name.utf8.contains(0), "an SQL identifier must be non-empty and free of NUL")
        self.name = name
    }

    /// The name in double quotes, embedded double quotes doubled.
    public var quoted: String {
        "\"" + name.replacing("\"", with: "\"\"") + "\""
    }

    /// `"schema"."name"`.
    public func qualified(in schema: PostgresIdentifier?) -> String {
        schema.map { "\($0.quoted).\(quoted)" } ?? quoted
    }

    public var description: String { quoted }
}
