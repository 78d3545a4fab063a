import KappaPostgres

/// The rollup views users query, over the series dictionary and the active rollups version.
///
/// `rollups` joins `rollups_<version>` (keyed by series id) with `series`, so it shows device and metric as
/// text and every tag column of `series`; each width's view (`rollups_1m`, `rollups_5m`, …) selects its width
/// from `rollups`. Only `rollups` names a versioned table, so activating another version rewrites it alone.
///
/// **Tag columns.** A configured tag key (`processors.rollup_tag_columns`) becomes a column of `series`
/// generated from its `tags` (the newest reading's values of the configured keys) and is appended to every
/// view, so `GROUP BY site` is plain SQL. Columns are only ever added (a view can only grow at its end):
/// a key no longer configured keeps its column, NULL for series that no longer carry it.
public enum RollupViews {
    /// The columns of every width's view before the tag columns, in order.
    public static let widthColumns = [
        "device", "metric", "bucket", "count", "sum", "min", "max", "mean", "stddev", "first_value", "first_time",
        "last_value", "last_time", "late", "p50", "p90", "p99", "unit",
    ]

    /// Columns a tag column may not be named (they are the views' own, or the dictionary's).
    public static let reservedNames: Set<String> = Set(widthColumns + ["width_seconds", "id", "series_id", "tags", "tags_time"])

    /// Whether `key` can be a tag column: lower-case letters, digits and underscores, starting with a letter or
    /// underscore, at most 63 bytes, and not the name of another column.
    public static func isValidTagColumn(_ key: String) -> Bool {
        let utf8 = Array(key.utf8)
        guard (1...63).contains(utf8.count), !reservedNames.contains(key) else { return false }
        let lower = UInt8(ascii: "a")...UInt8(ascii: "z")
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        let underscore = UInt8(ascii: "_")
        return (lower.contains(utf8[0]) || utf8[0] == underscore)
            && utf8.allSatisfy { lower.contains($0) || digits.contains($0) || $0 == underscore }
    }

    static func allWidthsDefinition(table: String, series: String, tagColumns: [String]) -> String {
        let tags = tagColumns.map { ", s.\(PostgresIdentifier($0).quoted)" }.joined()
        return """
            SELECT s.device, s.metric, r.width_seconds, r.bucket, r.count, r.sum, r.min, r.max, r.mean,
                   CASE WHEN r.count > 1 THEN sqrt(greatest(r.m2, 0) / (r.count - 1)) END AS stddev,
                   r.first_value, r.first_time, r.last_value, r.last_time, r.late, r.p50, r.p90, r.p99, r.unit\(tags)
            FROM \(table) r JOIN \(series) s ON s.id = r.series_id
            """
    }

    static func widthDefinition(rollups: String, width: Int64, tagColumns: [String]) -> String {
        let columns = (widthColumns + tagColumns).map { PostgresIdentifier($0).quoted }.joined(separator: ", ")
        return "SELECT \(columns) FROM \(rollups) WHERE width_seconds = \(width)"
    }

    /// Adds the tag columns of `tagKeys` that `series` lacks, and makes every view show every tag column and
    /// every width in `widths` have its view. Does nothing (two catalog reads) when all is in place.
    static func prepare(widths: [Int64], tagKeys: [String], schema: PostgresIdentifier, connection: PostgresConnection) async throws {
        let series = PostgresIdentifier("series").qualified(in: schema)
        let rollups = PostgresIdentifier("rollups").qualified(in: schema)
        let present = try await tagColumns(series, connection)
        let shown = Set(try await columns(of: rollups, connection))
        var missingViews: [Int64] = []
        for width in widths where !RollupWidths.builtIn.contains(width) {
            let view = PostgresIdentifier(RollupWidths.viewName(ofWidth: width)).qualified(in: schema)
            if try await connection.query("SELECT to_regclass($1) IS NULL", [.text(view)]).first?[0].bool == true { missingViews.append(width) }
        }
        let missingKeys = tagKeys.filter { !present.contains($0) }
        guard !missingKeys.isEmpty || !present.allSatisfy(shown.contains) || !missingViews.isEmpty else { return }
        try await connection.withTransaction { connection in
            // Gateways starting together take turns; the active version's row stays locked so no activation
            // rewrites `rollups` meanwhile.
            try await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(series)])
            let active = try await connection.query(
                "SELECT version FROM \(PostgresIdentifier("versions").qualified(in: schema)) WHERE processor = 'rollups' AND active FOR UPDATE"
            ).first.map { try $0[0].string } ?? "v1"
            for key in missingKeys where isValidTagColumn(key) {
                // The key is checked above (letters, digits, underscores), so it is safe as the literal too.
                try await connection.execute(
                    "ALTER TABLE \(series) ADD COLUMN IF NOT EXISTS \(PostgresIdentifier(key).quoted) text GENERATED ALWAYS AS (tags ->> '\(key)') STORED"
                )
            }
            let tags = try await tagColumns(series, connection)
            let table = PostgresIdentifier(ProcessorOutputs.tableName("rollups", version: active)).qualified(in: schema)
            try await connection.execute("CREATE OR REPLACE VIEW \(rollups) AS \(allWidthsDefinition(table: table, series: series, tagColumns: tags))")
            var viewWidths = Set(RollupWidths.builtIn).union(missingViews)
            let existing = try await connection.query(
                """
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relkind = 'v' AND c.relname LIKE 'rollups\\_%'
                """, [.text(schema.name)]
            )
            for row in existing {
                if let width = RollupWidths.width(ofViewName: try row[0].string) { viewWidths.insert(width) }
            }
            for width in viewWidths.sorted() {
                let view = PostgresIdentifier(RollupWidths.viewName(ofWidth: width)).qualified(in: schema)
                try await connection.execute("CREATE OR REPLACE VIEW \(view) AS \(widthDefinition(rollups: rollups, width: width, tagColumns: tags))")
            }
        }
    }

    /// The tag columns of `series` (its generated columns), in the order they were added.
    static func tagColumns(_ series: String, _ connection: PostgresConnection) async throws -> [String] {
        try await connection.query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = 's' ORDER BY attnum",
            [.text(series)]
        ).map { try $0[0].string }
    }

    static func columns(of relation: String, _ connection: PostgresConnection) async throws -> [String] {
        try await connection.query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [.text(relation)]
        ).map { try $0[0].string }
    }
}
