public import KappaCore

/// The row labels of a labelled data file, for scoring what the detectors made of its readings.
///
/// Two shapes, told apart by the header: SKAB's (`;`-separated, a zone-less `datetime`, one column per
/// metric, `anomaly` 0/1 and `changepoint`; the whole file is one device) and a long CSV
/// (`time,device,metric,value,label`). A file with no label column is all normal (an anomaly-free run).
/// A row is one time of one device: a long file's rows of the same device and time are one row, labelled
/// anomalous when any of them is.
public struct LabelledRows: Sendable {
    public struct Row: Hashable, Sendable {
        public var device: String
        public var time: Timestamp
        public var anomalous: Bool
    }

    /// Rows in file order, one per (device, time).
    public private(set) var rows: [Row] = []
    /// Whether the file had a label column at all.
    public private(set) var hasLabels = false

    /// The columns that hold labels, never imported as metrics.
    public static let labelColumns = ["anomaly", "changepoint", "label", "is_anomaly"]

    /// - Parameter device: the device of a file without a device column.
    public init(text: String, device: String, timeZone: ImportTimeZone) throws(ImportProblem) {
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).makeIterator()
        guard let header = lines.next() else { throw ImportProblem("empty file") }
        let options = CSVOptions()
        let delimiter = options.delimiter(ofHeader: header)
        let names = CSVFields.split(header, by: delimiter).map { $0.lowercased() }
        guard let timeColumn = CSVOptions.timeColumnNames.lazy.compactMap({ names.firstIndex(of: $0) }).first else {
            throw ImportProblem("the header names no time column")
        }
        let deviceColumn = names.firstIndex(of: "device")
        let labelColumn = ["anomaly", "label", "is_anomaly"].lazy.compactMap { names.firstIndex(of: $0) }.first
        hasLabels = labelColumn != nil
        var lineNumber = 1
        var last: (device: String, time: Timestamp)?
        for line in lines {
            lineNumber += 1
            let fields = CSVFields.split(line, by: delimiter)
            guard fields.count > max(timeColumn, deviceColumn ?? 0, labelColumn ?? 0) else { throw ImportProblem("line \(lineNumber): too few fields") }
            guard let time = ImportTimestamp.parse(fields[timeColumn], zone: timeZone) else { throw ImportProblem("line \(lineNumber): bad time '\(fields[timeColumn])'") }
            let rowDevice = deviceColumn.map { fields[$0] } ?? device
            let anomalous = labelColumn.map { (Double(fields[$0]) ?? 0) >= 0.5 } ?? false
            if let last, last.device == rowDevice, last.time == time {
                if anomalous { rows[rows.count - 1].anomalous = true }
                continue
            }
            rows.append(Row(device: rowDevice, time: time, anomalous: anomalous))
            last = (rowDevice, time)
        }
    }

    public init(rows: [Row], hasLabels: Bool) {
        self.rows = rows
        self.hasLabels = hasLabels
    }
}
