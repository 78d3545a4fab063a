/// An SQL identifier (schema, table, column name), always emitted double-quoted so that any name is safe
/// to put into SQL text. Inside PL/pgSQL, quote with `format('%I')` instead (see `SchemaMigration`).
public struct PostgresIdentifier: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    /// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1), which would make two names one.
    public static let maxBytes = 63

    /// For names the program itself spells; names that come from users or configuration go through
    /// `validated(_:)` instead.
    /// - Precondition: `name` is not empty and has no NUL character (PostgreSQL cannot store either).
    public init(_ name: String) {
        precondition(!name.isEmpty && !name.utf8.contains(0), "an SQL identifier must be non-empty and free of NUL")
        self.name = name
    }

    /// A user-given name, or the error saying why PostgreSQL could not take it as it is.
    public static func validated(_ name: String) throws(PostgresIdentifierError) -> PostgresIdentifier {
        if let problem = problem(with: name) { throw PostgresIdentifierError(name: name, problem: problem) }
        return PostgresIdentifier(name)
    }

    /// Why `name` cannot be an identifier, or nil: it must be 1–63 bytes of UTF-8 with no control
    /// character (PostgreSQL cannot store U+0000, and the others only come from mistakes).
    public static func problem(with name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > maxBytes { return "it is \(name.utf8.count) bytes long; PostgreSQL keeps at most \(maxBytes)" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value <= 0x9F) }) {
            return "it contains a control character"
        }
        return nil
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

/// A name given for an SQL identifier that PostgreSQL could not take as it is.
public struct PostgresIdentifierError: Error, Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var problem: String

    public var description: String {
        let shown = name.unicodeScalars.count > 80 ? String(String.UnicodeScalarView(name.unicodeScalars.prefix(80))) + "…" : name
        return "invalid SQL identifier \"\(shown.debugDescription.dropFirst().dropLast())\": \(problem)"
    }
}
