/// How `kappa import` reads a CSV file's header and rows.
///
/// Long files have a `value` column (one reading a row, with `device` and `metric` columns or options);
/// wide files have one column per metric (a row holds one reading per non-empty metric column, all at the
/// row's time). Header names are matched without regard to case.
public struct CSVOptions: Sendable, Hashable {
    /// `,`, `;` or tab; nil takes whichever of them the header line holds most of.
    public var delimiter: Character?
    /// The time column; nil takes the first of `time`, `timestamp`, `datetime`, `date`, `ts`.
    public var timeColumn: String?
    /// The value columns, each a metric named as its column; nil takes `value` when there is one (a long
    /// file), otherwise every column except time, device, metric and `ignoredColumns` (a wide file).
    public var valueColumns: [String]?
    /// Columns that are neither time, device, metric nor values (labels, comments).
    public var ignoredColumns: [String]
    /// The zone of timestamps written without one.
    public var timeZone: ImportTimeZone

    public init(
        delimiter: Character? = nil, timeColumn: String? = nil, valueColumns: [String]? = nil, ignoredColumns: [String] = [],
        timeZone: ImportTimeZone = .utc
    ) {
        self.delimiter = delimiter
        self.timeColumn = timeColumn
        self.valueColumns = valueColumns
        self.ignoredColumns = ignoredColumns
        self.timeZone = timeZone
    }

    static let timeColumnNames = ["time", "timestamp", "datetime", "date", "ts"]

    /// The delimiter of a header line: the option, else the most frequent candidate (a comma on a tie or none).
    func delimiter(ofHeader line: Substring) -> Character {
        if let delimiter { return delimiter }
        var best: Character = ",", bestCount = 0
        for candidate: Character in [",", ";", "\t"] {
            let count = line.reduce(0) { $0 + ($1 == candidate ? 1 : 0) }
            if count > bestCount { (best, bestCount) = (candidate, count) }
        }
        return best
    }
}

/// Where a CSV file's fields are, found from its header.
struct CSVLayout: Sendable {
    var delimiter: Character
    var time: Int
    var device: Int?
    var metric: Int?
    /// Value columns with the metric each stands for (nil: the metric column's or option's).
    var values: [(column: Int, metric: String?)]

    init(header: Substring, options: CSVOptions, device: String?, metric: String?) throws(ImportProblem) {
        delimiter = options.delimiter(ofHeader: header)
        let names = CSVFields.split(header, by: delimiter)
        let lowered = names.map { $0.lowercased() }
        func column(_ name: String) -> Int? { lowered.firstIndex(of: name.lowercased()) }
        if let timeColumn = options.timeColumn {
            guard let index = column(timeColumn) else { throw ImportProblem("no column \(timeColumn) (--time-column) in the header") }
            time = index
        } else {
            guard let index = CSVOptions.timeColumnNames.lazy.compactMap(column).first else {
                throw ImportProblem("the header names no time column (time, timestamp, datetime, date or ts): give --time-column")
            }
            time = index
        }
        self.device = column("device")
        self.metric = column("metric")
        if let valueColumns = options.valueColumns {
            values = try valueColumns.map { name throws(ImportProblem) in
                guard let index = column(name) else { throw ImportProblem("no column \(name) (--value-columns) in the header") }
                return (index, valueColumns.count == 1 && name.lowercased() == "value" ? nil : names[index])
            }
        } else if let index = column("value") {
            values = [(index, nil)]
        } else {
            let ignored = Set(options.ignoredColumns.map { $0.lowercased() })
            let taken = Set([time, self.device, self.metric].compactMap { $0 })
            values = names.indices.filter { !taken.contains($0) && !ignored.contains(lowered[$0]) && !names[$0].isEmpty }.map { ($0, names[$0]) }
            guard !values.isEmpty else { throw ImportProblem("the header names no value column") }
        }
        guard self.device != nil || device != nil else { throw ImportProblem("no device column: give --device") }
        guard self.metric != nil || metric != nil || values.allSatisfy({ $0.metric != nil }) else {
            throw ImportProblem("no metric column: give --metric")
        }
    }

    /// Wide rows may leave a metric's field empty (no reading); a long row's value must be there.
    var isWide: Bool { values.count > 1 || values.first?.metric != nil }
}

enum CSVFields {
    /// Fields split at the delimiter, each trimmed of spaces, tabs (unless tab is the delimiter) and quotes.
    static func split(_ line: Substring, by delimiter: Character) -> [String] {
        let trimmed: Set<Character> = delimiter == "\t" ? [" ", "\""] : [" ", "\t", "\""]
        return line.split(separator: delimiter, omittingEmptySubsequences: false).map { field in
            var text = field
            while let first = text.first, trimmed.contains(first) { text.removeFirst() }
            while let last = text.last, trimmed.contains(last) { text.removeLast() }
            return String(text)
        }
    }
}
