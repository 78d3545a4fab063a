import ArgumentParser
import Foundation
import KappaSimulator

struct ReplayCSV: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay-csv",
        abstract: "Publishes a recorded series from CSV at a speed factor.",
        discussion: """
        Columns: timestamp,value[,device,metric]. The timestamp is epoch seconds, ms, µs or ns (by magnitude) \
        or RFC 3339; a header row is skipped. Each row becomes {"ts":<ms>,"<metric>":<value>} on \
        devices/{device}/telemetry (or, with --format number, a bare number on devices/{device}/{metric}), \
        sent at its timestamp scaled by --speed, counted from the first row.

        Examples:
          kappa-sim replay-csv recorded.csv --device pump-00001 --metric pressure --speed 60
          kappa-sim replay-csv fleet.csv --speed fast --qos 1 --mqtt mqtt://broker:1883
        """
    )

    @Argument(help: "The CSV file.")
    var file: String

    @OptionGroup var connection: ConnectionOptions

    // --speed, --fast, --count and --format are also the root command's options, and swift-argument-parser
    // gives a parent's option the value even after the subcommand (its issue 169). They are declared here for
    // the help and read through `fleet`, where the values land.
    @ParentCommand var fleet: KappaSim

    @Option(help: ArgumentHelp("fast, realtime, or a speed factor such as 60 (default: realtime).", valueName: "speed"))
    var speed: SpeedOption?

    @Flag(help: "Same as --speed fast.")
    var fast = false

    @Option(help: "Device of rows without a device column.")
    var device: String = "csv-00000"

    @Option(help: "Metric of rows without a metric column.")
    var metric: String = "value"

    @Option(help: ArgumentHelp("json or number.", valueName: "format"))
    var format: String = "json"

    @Option(help: "Stop after this many messages.")
    var count: Int?

    var pacing: Pacing { fast || fleet.fast ? .fast : (speed ?? fleet.speed ?? .factor(1)).pacing }
    var limit: Int? { count ?? fleet.count }
    var payloadFormat: String { format != "json" ? format : fleet.format }

    func validate() throws {
        guard payloadFormat == "json" || payloadFormat == "number" else { throw ValidationError("--format must be json or number") }
    }

    func run() async throws {
        let path = file, device = device, metric = metric
        let rows = try await Task.detached {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SimulatorError(code: .fileAccess, message: "cannot read '\(path)'")
            }
            return try CSVReplay.parse(text, defaultDevice: device, defaultMetric: metric)
        }.value
        let replay = CSVReplay(rows: rows, format: payloadFormat == "number" ? .number : .json, topicPrefix: connection.topicPrefix)
        let devices = Set(rows.map(\.device)).count
        try await RunCommand.execute(source: replay, devices: devices, options: connection, pacing: pacing, limit: limit, labels: nil)
    }
}
