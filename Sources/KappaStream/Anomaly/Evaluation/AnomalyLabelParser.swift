import Foundation
import KappaCore

/// Reads the simulator's ground truth, JSON Lines or CSV (whichever the first non-blank line shows):
/// - `{"device":"env-00042","metric":"temperature","kind":"spike","start":"2026-11-25T10:00:00Z","end":"…"}`
/// - a header naming at least `device,metric,kind,start,end` (in any order; other columns are ignored), then
///   one row per label; fields may be quoted as in RFC 4180, but not span lines.
/// Times are RFC 3339.
///
/// Foundation is fine here: a label file is read once, before an evaluation, not on the hot path.
public enum AnomalyLabelParser {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            let name: String
            public static let malformedJSON = Code(name: "malformed JSON")
            public static let malformedCSV = Code(name: "malformed CSV")
            public static let badTime = Code(name: "not an RFC 3339 time")
            public static let endBeforeStart = Code(name: "end before start")
            public var description: String { name }
        }

        public var code: Code
        /// 1-based line number in the file.
        public var line: Int
        public var detail: String

        public var description: String { "labels line \(line): \(code)\(detail.isEmpty ? "" : ": \(detail)")" }
    }

    private struct Line: Decodable {
        var device: String
        var metric: String
        var kind: String
        var start: String
        var end: String
    }

    /// Parses every non-blank line; the first bad line throws, naming its number.
    public static func parse(_ text: String) throws(Error) -> [AnomalyLabel] {
        let decoder = JSONDecoder()
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ text: String, line: Int) throws(Error) -> Timestamp {
            guard let date = plain.date(from: text) ?? fractional.date(from: text) else {
                throw Error(code: .badTime, line: line, detail: text)
            }
            return Timestamp(microsecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1e6).rounded()))
        }
        var labels: [AnomalyLabel] = []
        var csvColumns: CSVColumns? = nil
        var isFirstLine = true
        // "\r\n" is one Character in Swift, so a CRLF file needs its own separator.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (offset, raw) in lines.enumerated() {
            let lineNumber = offset + 1
            guard raw.contains(where: { !$0.isWhitespace }) else { continue }
            if isFirstLine {
                isFirstLine = false
                if raw.first(where: { !$0.isWhitespace }) != "{" {
                    csvColumns = try CSVColumns(header: raw, line: lineNumber)
                    continue
                }
            }
            let line: Line
            if let csvColumns {
                line = try csvColumns.line(raw, line: lineNumber)
            } else {
                do {
                    line = try decoder.decode(Line.self, from: Data(raw.utf8))
                } catch {
                    throw Error(code: .malformedJSON, line: lineNumber, detail: "")
                }
            }
            let start = try time(line.start, line: lineNumber), end = try time(line.end, line: lineNumber)
            guard end >= start else { throw Error(code: .endBeforeStart, line: lineNumber, detail: "") }
            labels.append(AnomalyLabel(device: line.device, metric: line.metric, kind: .init(line.kind), start: start, end: end))
        }
        return labels
    }

    /// Where the needed fields are in a CSV file's rows.
    private struct CSVColumns {
        let device: Int, metric: Int, kind: Int, start: Int, end: Int

        init(header: Substring, line: Int) throws(Error) {
            let names = CSVColumns.fields(header).map { $0.lowercased() }
            func column(_ name: String) throws(Error) -> Int {
                guard let index = names.firstIndex(of: name) else {
                    throw Error(code: .malformedCSV, line: line, detail: "the header has no '\(name)' column (device,metric,kind,start,end)")
                }
                return index
            }
            device = try column("device")
            metric = try column("metric")
            kind = try column("kind")
            start = try column("start")
            end = try column("end")
        }

        func line(_ raw: Substring, line: Int) throws(Error) -> Line {
            let fields = CSVColumns.fields(raw)
            let needed = max(device, metric, kind, start, end)
            guard fields.count > needed else {
                throw Error(code: .malformedCSV, line: line, detail: "\(fields.count) fields, the header needs at least \(needed + 1)")
            }
            return Line(device: fields[device], metric: fields[metric], kind: fields[kind], start: fields[start], end: fields[end])
        }

        /// Splits one row: commas separate fields; a quoted field may contain commas and doubled quotes.
        static func fields(_ row: Substring) -> [String] {
            var fields: [String] = []
            var field = ""
            var quoted = false
            var characters = row.makeIterator()
            while let character = characters.next() {
                if quoted {
                    if character == "\"" {
                        // Either the closing quote or the first of a doubled one.
                        var lookahead = characters
                        if lookahead.next() == "\"" {
                            field.append("\"")
                            characters = lookahead
                        } else {
                            quoted = false
                        }
                    } else {
                        field.append(character)
                    }
                } else if character == "\"" && field.isEmpty {
                    quoted = true
                } else if character == "," {
                    fields.append(field.trimmingSpaces)
                    field = ""
                } else {
                    field.append(character)
                }
            }
            fields.append(field.trimmingSpaces)
            return fields
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
