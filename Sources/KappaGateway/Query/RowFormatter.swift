import KappaPostgres
import KappaStream

/// How `kappa query` prints rows.
public enum RowFormat: String, CaseIterable, Sendable {
    case table, csv, json
}

/// Rows as an aligned table, CSV (RFC 4180 quoting) or JSON (an array of objects; numbers as numbers).
public enum RowFormatter {
    public static func format(_ rows: PostgresRows, as format: RowFormat) throws -> String {
        let names = rows.columns.map(\.name)
        let cells: [[String?]] = try rows.map { row in try (0..<row.count).map { row[$0].isNull ? nil : try row[$0].string } }
        switch format {
        case .table:
            let texts = cells.map { $0.map { $0 ?? "" } }
            let widths = names.indices.map { column in texts.reduce(names[column].count) { max($0, $1[column].count) } }
            func line(_ values: [String]) -> String {
                values.enumerated().map { $1.padding(toLength: widths[$0]) }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
            }
            return line(names) + line(widths.map { String(repeating: "-", count: $0) }) + texts.map(line).joined()
        case .csv:
            func field(_ value: String?) -> String {
                guard let value else { return "" }
                return value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                    ? "\"" + value.replacing("\"", with: "\"\"") + "\"" : value
            }
            return ([names] + cells).map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
        case .json:
            // int2, int4, int8, float4, float8: printed as JSON numbers when finite.
            let numeric: Set<UInt32> = [20, 21, 23, 700, 701]
            let objects = cells.map { row in
                "{" + row.enumerated().map { column, value in
                    var text = ""
                    JSONText.appendString(names[column], to: &text)
                    text += ":"
                    if let value {
                        if numeric.contains(rows.columns[column].typeOID), Double(value)?.isFinite == true { text += value } else { JSONText.appendString(value, to: &text) }
                    } else {
                        text += "null"
                    }
                    return text
                }.joined(separator: ",") + "}"
            }
            return "[" + objects.joined(separator: ",\n") + "]\n"
        }
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }

    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
