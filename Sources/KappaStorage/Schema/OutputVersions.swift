public import KappaPostgres

/// Creates, activates and drops output versions (see ``ProcessorOutputs``).
///
/// Activation rewrites the processor's views with `CREATE OR REPLACE VIEW` and flips `versions.active` in one
/// transaction: a reader sees either every view on the old version or every view on the new one, and is at
/// most briefly blocked by the views' locks, never given an error.
public struct OutputVersions: Sendable {
    public let schema: PostgresIdentifier

    public init(schema: PostgresIdentifier = PostgresIdentifier(KappaSchema.defaultSchema)) {
        self.schema = schema
    }

    private var versionsTable: String { PostgresIdentifier("versions").qualified(in: schema) }
    private var offsetsTable: String { PostgresIdentifier("processor_offsets").qualified(in: schema) }

    private static let columns = "processor, version, state, active, configuration::text, created_at::text"

    /// Every version of every processor, by processor then creation.
    public func list(_ connection: PostgresConnection) async throws -> [OutputVersion] {
        try await Self.versions(connection.query("SELECT \(Self.columns) FROM \(versionsTable) ORDER BY processor, created_at, version"))
    }

    public func version(_ connection: PostgresConnection, processor: String, version: String) async throws -> OutputVersion? {
        try await Self.versions(connection.query(
            "SELECT \(Self.columns) FROM \(versionsTable) WHERE processor = $1 AND version = $2", [.text(processor), .text(version)]
        )).first
    }

    public func active(_ connection: PostgresConnection, processor: String) async throws -> OutputVersion? {
        try await Self.versions(connection.query(
            "SELECT \(Self.columns) FROM \(versionsTable) WHERE processor = $1 AND active", [.text(processor)]
        )).first
    }

    /// Creates `version`'s tables like the active version's and records it as replaying; when it exists with
    /// the same configuration (a resumed replay) returns it unchanged. `configuration` is JSON.
    @discardableResult
    public func create(_ connection: PostgresConnection, processor: String, version: String, configuration: String) async throws -> (version: OutputVersion, created: Bool) {
        let outputs = try Self.outputs(processor, version: version)
        try Self.validate(version, processor: processor)
        return try await connection.withTransaction { connection in
            let active = try await lockActive(connection, processor: processor, version: version)
            let same = try await connection.query(
                "SELECT configuration = $3::jsonb FROM \(versionsTable) WHERE processor = $1 AND version = $2",
                [.text(processor), .text(version), .text(configuration)]
            )
            if let row = same.first {
                // A version whose configuration was never recorded (v1 as the migrations create it on a fresh
                // database) takes the replay's: refusing it would make `replay … --output-version v1` impossible there.
                let unrecorded = try await connection.query(
                    "SELECT configuration = '{}'::jsonb FROM \(versionsTable) WHERE processor = $1 AND version = $2", [.text(processor), .text(version)]
                )
                if try !row[0].bool, try unrecorded.first?[0].bool == true {
                    try await connection.execute(
                        "UPDATE \(versionsTable) SET configuration = $3::jsonb WHERE processor = $1 AND version = $2",
                        [.text(processor), .text(version), .text(configuration)]
                    )
                    return (try await self.version(connection, processor: processor, version: version)!, false)
                }
                guard try row[0].bool else {
                    throw OutputVersionError(code: .configurationMismatch, processor: processor, version: version, message: "exists with another configuration; choose another version name or drop it first")
                }
                return (try await self.version(connection, processor: processor, version: version)!, false)
            }
            for base in outputs.tables {
                let template = table(base, version: active)
                let partitioning = try await connection.query("SELECT pg_get_partkeydef(to_regclass($1))", [.text(template)])
                let partitionClause = try partitioning.first.flatMap { $0[0].isNull ? nil : " PARTITION BY " + (try $0[0].string) } ?? ""
                try await connection.execute("CREATE TABLE \(table(base, version: version)) (LIKE \(template) INCLUDING ALL)\(partitionClause)")
            }
            try await connection.execute(
                "INSERT INTO \(versionsTable) (processor, version, active, configuration, state) VALUES ($1, $2, false, $3::jsonb, 'replaying')",
                [.text(processor), .text(version), .text(configuration)]
            )
            return (try await self.version(connection, processor: processor, version: version)!, true)
        }
    }

    /// Marks a version caught up (or back to replaying); the active and retired states are left alone.
    public func setReplayState(_ connection: PostgresConnection, processor: String, version: String, caughtUp: Bool) async throws {
        try await connection.execute(
            "UPDATE \(versionsTable) SET state = $3 WHERE processor = $1 AND version = $2 AND state IN ('replaying', 'caught_up')",
            [.text(processor), .text(version), .text(caughtUp ? OutputVersion.State.caughtUp.rawValue : OutputVersion.State.replaying.rawValue)]
        )
    }

    /// Points the processor's views at `version` and makes it the active one, atomically.
    public func activate(_ connection: PostgresConnection, processor: String, version: String) async throws {
        let outputs = try Self.outputs(processor, version: version)
        try await connection.withTransaction { connection in
            let current = try await lockActive(connection, processor: processor, version: version)
            guard try await self.version(connection, processor: processor, version: version) != nil else {
                throw OutputVersionError(code: .notFound, processor: processor, version: version, message: "no such version")
            }
            guard current != version else { return }
            // With only pg_catalog visible, pg_get_viewdef qualifies every Kappa relation; columns may also be
            // qualified by the bare table name (`rollups_v1.device`), so whole identifiers are rewritten.
            try await connection.execute("SET LOCAL search_path = pg_catalog")
            var renames: [(old: String, new: String)] = []
            for base in outputs.tables {
                renames.append((
                    try await quoteIdentifier(connection, ProcessorOutputs.tableName(base, version: current)),
                    try await quoteIdentifier(connection, ProcessorOutputs.tableName(base, version: version))
                ))
            }
            for view in outputs.views {
                let qualified = PostgresIdentifier(view).qualified(in: schema)
                let rows = try await connection.query("SELECT pg_get_viewdef(to_regclass($1))", [.text(qualified)])
                guard let row = rows.first, !row[0].isNull else { continue }
                let current = try row[0].string
                var definition = current
                for rename in renames { definition = Self.replacingIdentifier(rename.old, with: rename.new, in: definition) }
                // A view over other views only (rollups_1m reads rollups) follows them: replacing it would only
                // take its lock and wait for its readers.
                guard definition != current else { continue }
                if definition.hasSuffix(";") { definition.removeLast() }
                try await connection.execute("CREATE OR REPLACE VIEW \(qualified) AS \(definition)")
            }
            try await connection.execute(
                "UPDATE \(versionsTable) SET active = false, state = 'retired' WHERE processor = $1 AND active", [.text(processor)]
            )
            try await connection.execute(
                "UPDATE \(versionsTable) SET active = true, state = 'active' WHERE processor = $1 AND version = $2", [.text(processor), .text(version)]
            )
        }
    }

    /// Drops an inactive version's tables, offsets and row.
    public func drop(_ connection: PostgresConnection, processor: String, version: String) async throws {
        let outputs = try Self.outputs(processor, version: version)
        try await connection.withTransaction { connection in
            let active = try await lockActive(connection, processor: processor, version: version)
            guard active != version else {
                throw OutputVersionError(code: .dropActive, processor: processor, version: version, message: "is active: activate another version first")
            }
            guard try await self.version(connection, processor: processor, version: version) != nil else {
                throw OutputVersionError(code: .notFound, processor: processor, version: version, message: "no such version")
            }
            for base in outputs.tables {
                try await connection.execute("DROP TABLE IF EXISTS \(table(base, version: version))")
            }
            try await connection.execute("DELETE FROM \(offsetsTable) WHERE processor = $1 AND output_version = $2", [.text(processor), .text(version)])
            try await connection.execute("DELETE FROM \(versionsTable) WHERE processor = $1 AND version = $2", [.text(processor), .text(version)])
        }
    }

    // MARK: Helpers

    private func table(_ base: String, version: String) -> String {
        PostgresIdentifier(ProcessorOutputs.tableName(base, version: version)).qualified(in: schema)
    }

    /// The active version's name, its row locked so concurrent creates, activations and drops of the
    /// processor's versions take turns.
    private func lockActive(_ connection: PostgresConnection, processor: String, version: String) async throws -> String {
        let rows = try await connection.query("SELECT version FROM \(versionsTable) WHERE processor = $1 AND active FOR UPDATE", [.text(processor)])
        guard let row = rows.first else {
            throw OutputVersionError(code: .noActiveVersion, processor: processor, version: version, message: "the processor has no active version (is the schema migrated?)")
        }
        return try row[0].string
    }

    private func quoteIdentifier(_ connection: PostgresConnection, _ name: String) async throws -> String {
        try await connection.query("SELECT quote_ident($1)", [.text(name)]).first![0].string
    }

    private static func outputs(_ processor: String, version: String) throws -> ProcessorOutputs {
        guard let outputs = ProcessorOutputs.named(processor) else {
            throw OutputVersionError(code: .unknownProcessor, processor: processor, version: version, message: "unknown processor; known: \(ProcessorOutputs.all.map(\.processor).joined(separator: ", "))")
        }
        return outputs
    }

    /// Lower-case letters, digits and underscores, starting with a letter: the name becomes part of table names.
    public static func validate(_ version: String, processor: String) throws {
        let utf8 = Array(version.utf8)
        // Not isIdentifierByte: that one also takes `$` and non-ASCII bytes, which PostgreSQL allows in
        // identifiers but this rule does not.
        let lowercase = UInt8(ascii: "a")...UInt8(ascii: "z")
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        let valid = (1...24).contains(utf8.count) && lowercase.contains(utf8[0])
            && utf8.allSatisfy { lowercase.contains($0) || digits.contains($0) || $0 == UInt8(ascii: "_") }
        guard valid else {
            throw OutputVersionError(code: .invalidName, processor: processor, version: version, message: "a version name is 1 to 24 lower-case letters, digits or underscores, starting with a letter")
        }
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$") || byte >= 0x80
    }

    /// Replaces whole occurrences of the identifier `old` (not part of a longer identifier).
    static func replacingIdentifier(_ old: String, with new: String, in text: String) -> String {
        let source = Array(text.utf8)
        let pattern = Array(old.utf8)
        guard !pattern.isEmpty, source.count >= pattern.count else { return text }
        var result: [UInt8] = []
        result.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if index + pattern.count <= source.count, source[index..<(index + pattern.count)].elementsEqual(pattern),
               index == 0 || !isIdentifierByte(source[index - 1]),
               index + pattern.count == source.count || !isIdentifierByte(source[index + pattern.count])
            {
                result.append(contentsOf: new.utf8)
                index += pattern.count
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func versions(_ rows: PostgresRows) throws -> [OutputVersion] {
        try rows.map { row in
            OutputVersion(
                processor: try row[0].string, version: try row[1].string,
                state: OutputVersion.State(rawValue: try row[2].string) ?? .retired, isActive: try row[3].bool,
                configuration: try row[4].string, createdAt: try row[5].string
            )
        }
    }
}
