import KappaPostgres

/// The bucket widths of a rollups output version, and the views users read them through.
///
/// **Widths belong to an output version.** Rows of a width exist from the first reading on only if the
/// width was there from the start, so widths are recorded with the version (`versions.configuration`) and
/// a processor refuses to write a version recorded with other widths (``RollupWidthsMismatch``): new widths
/// mean a new version, built by `kappa replay rollups --output-version v2 --rollup-widths …` and switched to
/// by `kappa versions activate`. A version recorded without widths (v1 as the first migrations made it) was
/// built by gateways that knew only 1m, 1h and 1d: it takes the widths of its first writer while it is
/// empty, and counts as 1m, 1h, 1d once it holds rows.
///
/// **A view per width.** `rollups_1m`, `rollups_1h` and `rollups_1d` exist from the migrations on; any other
/// width gets `rollups_<width>` (`rollups_5m`, `rollups_15m`, `rollups_90s`) when a processor with that
/// width starts, with the same columns, selecting from `rollups` (every width of the active version), so
/// activating another version never needs to rewrite it. A view of a width the active version lacks is
/// empty, not an error.
public enum RollupWidths {
    /// What every gateway wrote before widths were a setting, and the default.
    public static let builtIn: [Int64] = [60, 3600, 86_400]

    /// `rollups_5m` for 300: the largest whole unit of d, h, m, s.
    public static func viewName(ofWidth seconds: Int64) -> String {
        "rollups_" + label(seconds)
    }

    /// `5m`, `1h`, `90s`, `2d`: the largest unit that divides the width.
    public static func label(_ seconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    /// 300 for `rollups_5m`: the width a view made by ``viewName(ofWidth:)`` shows; nil for other names.
    public static func width(ofViewName name: String) -> Int64? {
        guard name.hasPrefix("rollups_") else { return nil }
        let label = name.dropFirst("rollups_".count)
        guard let unit = label.last, let size: Int64 = ["s": 1, "m": 60, "h": 3600, "d": 86_400][String(unit)] else { return nil }
        let number = label.dropLast()
        guard !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber), number.first != "0",
              let count = Int64(number), count <= 366 * 86_400 else { return nil }
        let width = count * size
        return viewName(ofWidth: width) == name ? width : nil
    }

    /// `1m,5m,1h`.
    public static func describe(_ widths: [Int64]) -> String {
        widths.map(label).joined(separator: ",")
    }

    /// The widths in a version's recorded configuration's `rollup_widths` (`[60, 3600]`), nil when absent.
    static func parseRecorded(_ json: String) -> [Int64]? {
        guard json.hasPrefix("["), json.hasSuffix("]") else { return nil }
        let inner = json.dropFirst().dropLast().filter { $0 != " " }
        var widths: [Int64] = []
        for part in inner.split(separator: ",") {
            guard let width = Int64(part) else { return nil }
            widths.append(width)
        }
        return widths
    }

    /// Checks `widths` against those recorded for `version`, recording them where none are (``RollupViews``
    /// makes the views of widths beyond 1m, 1h and 1d). Throws ``RollupWidthsMismatch`` when the version holds others.
    static func prepare(widths: [Int64], version: String, schema: PostgresIdentifier, cellsTable: String,
                        connection: PostgresConnection) async throws {
        let versions = PostgresIdentifier("versions").qualified(in: schema)
        let recorded = try await connection.query(
            "SELECT (configuration -> 'rollup_widths')::text FROM \(versions) WHERE processor = 'rollups' AND version = $1", [.text(version)]
        )
        var stored: [Int64]?
        if let row = recorded.first, !row[0].isNull {
            stored = parseRecorded(try row[0].string)
        } else {
            let holdsRows = try await connection.query("SELECT EXISTS (SELECT 1 FROM \(cellsTable))").first?[0].bool ?? false
            if holdsRows { stored = builtIn }
        }
        if let stored, stored != widths {
            throw RollupWidthsMismatch(version: version, stored: stored, configured: widths)
        }
        if recorded.first?[0].isNull == true {
            try await connection.execute(
                """
                UPDATE \(versions) SET configuration = configuration || jsonb_build_object('rollup_widths', $2::jsonb)
                WHERE processor = 'rollups' AND version = $1 AND NOT configuration ? 'rollup_widths'
                """,
                [.text(version), .text("[" + widths.map(String.init).joined(separator: ", ") + "]")]
            )
        }
    }
}

/// A rollups output version holds other bucket widths than the processor was given.
public struct RollupWidthsMismatch: Error, CustomStringConvertible {
    public let version: String
    public let stored: [Int64]
    public let configured: [Int64]

    public var description: String {
        "rollups output version \(version) holds the widths \(RollupWidths.describe(stored)), not \(RollupWidths.describe(configured)) "
            + "as set: widths are fixed per output version. Build one with the new widths "
            + "(kappa replay rollups --output-version <new> --rollup-widths \(RollupWidths.describe(configured)), "
            + "then kappa versions activate rollups <new>) or set rollup_widths back to \(RollupWidths.describe(stored))."
    }
}
