import Foundation
import KappaCore
import KappaLog
import KappaStream
import Logging

/// `kappa import`: files of historical readings appended to the log's readings stream, each reading encoded
/// as the bridge encodes it, so processors and replays treat it like live data.
public struct HistoricalImport {
    public var format: ImportFormat
    /// The device and metric of every reading, for files without those columns.
    public var device: String?
    public var metric: String?
    public var csv: CSVOptions
    /// Partitions of the readings stream if it has to be created.
    public var partitions: Int

    public init(format: ImportFormat, device: String?, metric: String?, csv: CSVOptions, partitions: Int) {
        self.format = format
        self.device = device
        self.metric = metric
        self.csv = csv
        self.partitions = partitions
    }

    /// The CSV options from the flags' text: the zone of zone-less times, the time column, value and ignored
    /// columns (comma-separated), the delimiter (`,`, `;` or `tab`; nil: found from the header).
    public static func csvOptions(
        timeZone: String, timeColumn: String?, valueColumns: String?, ignoreColumns: String?, delimiter: String?
    ) throws(SettingsError) -> CSVOptions {
        guard let zone = ImportTimeZone(timeZone) else {
            throw SettingsError("--timezone: \(timeZone) is not UTC, an offset like +03:00, or a known zone name.")
        }
        var options = CSVOptions(timeColumn: timeColumn, timeZone: zone)
        options.valueColumns = valueColumns.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        options.ignoredColumns = (ignoreColumns ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        switch delimiter {
        case nil: break
        case "tab", "\\t", "\t": options.delimiter = "\t"
        case ",": options.delimiter = ","
        case ";": options.delimiter = ";"
        default: throw SettingsError("--delimiter must be `,`, `;` or `tab`.")
        }
        return options
    }

    /// Imports `files` in order into the log in `directory`, which it needs to itself. `onBadLine` hears each
    /// line that did not import; `onProgress` the running totals, at most once a second.
    public func run(
        files: [String], directory: LogDirectory, logger: Logger,
        onBadLine: (ReadingImporter.BadLine) -> Void, onProgress: (ReadingImporter.Summary) -> Void
    ) throws -> ReadingImporter.Summary {
        var configuration = DiskLogConfiguration()
        configuration.fsync = .never
        let log = try directory.openExclusive(configuration: configuration, while: "while importing", logger: logger)
        defer { log.close() }
        return try run(files: files, log: .disk(log), onBadLine: onBadLine, onProgress: onProgress)
    }

    /// Imports `files` in order into `log` (embedded or JetStream), which the caller opened for appending.
    public func run(
        files: [String], log: GatewayLog,
        onBadLine: (ReadingImporter.BadLine) -> Void, onProgress: (ReadingImporter.Summary) -> Void
    ) throws -> ReadingImporter.Summary {
        let importer = ReadingImporter(stream: try log.openOrCreateStream(named: KappaStreams.readings, partitions: partitions))
        var summary = ReadingImporter.Summary()
        let clock = ContinuousClock()
        var lastProgress = clock.now
        for file in files {
            let parser = ImportLineParser(format: format, device: device, metric: metric, csv: csv)
            try importer.importFile(file, parser: parser, summary: &summary, onBadLine: onBadLine, onProgress: { totals in
                let now = clock.now
                guard now - lastProgress >= .seconds(1) else { return }
                lastProgress = now
                onProgress(totals)
            })
        }
        return summary
    }
}
