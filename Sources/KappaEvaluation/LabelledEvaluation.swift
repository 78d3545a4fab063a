import Foundation
import KappaCore
import KappaLog
import KappaStream
import Logging

/// `kappa eval anomalies --labelled`: real labelled files through the production path.
public enum LabelledEvaluation {
    public struct Result {
        public var evaluation: RowEvaluation
        public var episodes: [AnomalyEpisode]
        public var readings: Int
    }

    /// The files named, folders expanded to every `.csv` beneath them (sorted by path, numbers numerically).
    public static func files(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw EvaluationInputError("--labelled: no such file \(path)") }
            guard isDirectory.boolValue else {
                files.append(path)
                continue
            }
            let found = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".csv") }
            files += found.sorted { $0.localizedStandardCompare($1) == .orderedAscending }.map { (path as NSString).appendingPathComponent($0) }
        }
        return files
    }

    /// A file without a device column is one device, named by its folder and file: `valve1/3`.
    public static func deviceName(_ file: String) -> String {
        let url = URL(fileURLWithPath: file)
        return url.deletingLastPathComponent().lastPathComponent + "/" + url.deletingPathExtension().lastPathComponent
    }

    public static func run(files: [String], configuration: AnomalyConfiguration, timeZone: ImportTimeZone) async throws -> Result {
        let log = try ThrowawayLog(name: "labelled")
        defer { log.close() }
        let stream = log.readings
        let importer = ReadingImporter(stream: stream)
        var rows: [LabelledRows.Row] = []
        var readingsByDevice: [String: Int] = [:]
        var total = 0
        for file in files {
            let device = deviceName(file)
            let labels = try LabelledRows(text: String(contentsOfFile: file, encoding: .utf8), device: device, timeZone: timeZone)
            rows += labels.rows
            var summary = ReadingImporter.Summary()
            var firstProblem: ReadingImporter.BadLine?
            let options = CSVOptions(ignoredColumns: LabelledRows.labelColumns, timeZone: timeZone)
            try importer.importFile(
                file, parser: ImportLineParser(format: .csv, device: device, metric: nil, csv: options), summary: &summary,
                onBadLine: { bad in if firstProblem == nil { firstProblem = bad } }
            )
            if let firstProblem { throw EvaluationInputError("\(file):\(firstProblem.line): \(firstProblem.problem)") }
            total += summary.readings
            // Readings per device: a long file spreads its readings over its devices in proportion to their rows.
            let devices = Dictionary(grouping: labels.rows, by: \.device).mapValues(\.count)
            for (name, count) in devices { readingsByDevice[name, default: 0] += summary.readings * count / max(1, labels.rows.count) }
        }
        let (episodes, _) = try await AnomalyEvaluation.episodes(log: log.log, configuration: configuration)
        return Result(evaluation: RowEvaluation(rows: rows, episodes: episodes, readingsByDevice: readingsByDevice), episodes: episodes, readings: total)
    }
}
