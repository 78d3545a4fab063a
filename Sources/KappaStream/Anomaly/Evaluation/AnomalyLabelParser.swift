import Foundation
import KappaCore

/// Reads the simulator's ground truth as JSON Lines:
/// `{"device":"env-00042","metric":"temperature","kind":"spike","start":"2026-11-25T10:00:00Z","end":"…"}`.
///
/// Foundation is fine here: a label file is read once, before an evaluation, not on the hot path.
public enum AnomalyLabelParser {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            let name: String
            public static let malformedJSON = Code(name: "malformed JSON")
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
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            guard raw.contains(where: { !$0.isWhitespace }) else { continue }
            let line: Line
            do {
                line = try decoder.decode(Line.self, from: Data(raw.utf8))
            } catch {
                throw Error(code: .malformedJSON, line: lineNumber, detail: "")
            }
            let start = try time(line.start, line: lineNumber), end = try time(line.end, line: lineNumber)
            guard end >= start else { throw Error(code: .endBeforeStart, line: lineNumber, detail: "") }
            labels.append(AnomalyLabel(device: line.device, metric: line.metric, kind: .init(line.kind), start: start, end: end))
        }
        return labels
    }
}
