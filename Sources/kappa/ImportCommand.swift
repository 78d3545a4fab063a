import ArgumentParser
import Foundation
import KappaCore
import KappaGateway
import KappaStream
import Logging

/// `kappa import`: historical readings from files into the log, to be replayed like live data.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Append historical readings from CSV, JSON lines or line protocol files to the log.",
        discussion: """
            Each reading keeps its own event time and is encoded as the MQTT bridge encodes it, so processors \
            and replays treat it like live data. Needs the log to itself: stop `kappa run` first (a JetStream log, \
            --log nats://…, has no lock to enforce that: a running gateway's appends would collide with the import's).

            csv: a header, then rows separated by `,`, `;` or tab (found from the header, or --delimiter). Long \
            files have time and value columns, plus device and metric (or --device/--metric); wide files have \
            one column per metric (every column but time, device and metric, or --value-columns). The time \
            column is time, timestamp, datetime, date or ts (or --time-column), holding RFC 3339, a local time \
            without a zone such as 2020-03-09 10:14:33 (read in --timezone, UTC by default), or epoch seconds, \
            milliseconds, microseconds or nanoseconds (told apart by magnitude). jsonl and line: one payload per line, decoded like a json or \
            line_protocol topic of --device (and --metric).
            """
    )

    @Argument(help: "Files to import, in order.") var files: [String]
    @Option(help: "csv, jsonl or line.") var format: String
    @Option(help: "The device of every reading (a file without a device column).") var device: String?
    @Option(help: "The metric of every reading (a file without a metric column).") var metric: String?
    @Option(help: "CSV: the time column's name.") var timeColumn: String?
    @Option(help: "CSV: comma-separated value columns, each imported as the metric of its name.") var valueColumns: String?
    @Option(help: "CSV: comma-separated columns of a wide file that are not metrics (labels, comments).") var ignoreColumns: String?
    @Option(help: "CSV: the field separator, `,` `;` or `tab` (default: found from the header).") var delimiter: String?
    @Option(help: "CSV: the zone of timestamps written without one: UTC, an offset such as +03:00, or a name such as Europe/Moscow.")
    var timezone = "UTC"
    @Option(help: "Partitions of the readings stream if it has to be created.") var partitions = KappaStreams.defaultReadingPartitions
    @Option(help: "Bad lines shown individually before only counting them.") var showBadLines = 20
    @OptionGroup var logOptions: CommandLogOptions

    func validate() throws {
        guard ImportFormat(rawValue: format) != nil else { throw ValidationError("--format must be csv, jsonl or line.") }
        guard !files.isEmpty else { throw ValidationError("name at least one file.") }
        _ = try csvOptions()
    }

    func csvOptions() throws -> CSVOptions {
        try reportingInputErrors {
            try HistoricalImport.csvOptions(timeZone: timezone, timeColumn: timeColumn, valueColumns: valueColumns, ignoreColumns: ignoreColumns, delimiter: delimiter)
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let started = clock.now
        var badLinesShown = 0
        let historicalImport = HistoricalImport(format: ImportFormat(rawValue: format)!, device: device, metric: metric, csv: try csvOptions(), partitions: partitions)
        let summary = try reportingInputErrors {
            let logger = Logger(label: "kappa.import")
            let (log, _) = try logOptions.open(.exclusive(activity: "while importing"), logger: logger)
            defer { log.close() }
            return try historicalImport.run(files: files, log: log, onBadLine: { bad in
                badLinesShown += 1
                if badLinesShown <= showBadLines { StandardError.write("\(bad.file):\(bad.line): \(bad.problem)\n") }
            }, onProgress: { totals in
                StandardError.write("\(totals.lines) lines, \(totals.readings) readings, \(totals.badLines) bad lines\n")
            })
        }
        let elapsed: Duration = clock.now - started
        print("Imported \(summary.readings) readings from \(summary.lines) lines of \(files.count) file(s) in \(elapsed); \(summary.badLines) bad lines.")
        if summary.badLines > 0 { throw ExitCode(2) }
    }
}
