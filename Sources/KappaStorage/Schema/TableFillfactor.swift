import KappaPostgres

/// A table whose every row is rewritten again and again (one row per series or device, updated at each
/// checkpoint it has readings in) keeps room on its pages, so PostgreSQL can update a row in place (HOT: the new
/// version on the same page, no new index entries, the old one pruned at a later visit). On full pages nearly
/// every such update moves the row and adds an entry to each index. Set when a writer loads, not by a migration:
/// a new output version's tables are made LIKE the active one, which does not copy storage parameters. Only
/// pages written from then on follow it.
enum TableFillfactor {
    /// Sets `table`'s (qualified, quoted) fill factor unless it has it already.
    static func ensure(_ fillfactor: Int, of table: String, connection: PostgresConnection) async throws {
        let set = try await connection.query(
            "SELECT 1 FROM pg_class WHERE oid = to_regclass($1) AND $2 = ANY(coalesce(reloptions, '{}'))",
            [.text(table), .text("fillfactor=\(fillfactor)")]
        )
        guard set.isEmpty else { return }
        try await connection.execute("ALTER TABLE \(table) SET (fillfactor = \(fillfactor))")
    }
}
