import ArgumentParser
import KappaGateway
import KappaStorage
import Logging

/// `kappa query …`: read the views users query in PostgreSQL.
struct QueryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Query rollups, latest values, devices and anomalies.",
        subcommands: [Rollups.self, Latest.self, Devices.self, Anomalies.self]
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json
    }

    struct Output: ParsableArguments {
        @Option(help: "table, csv or json.") var format: Format = .table
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var schema: SchemaOptions

        /// Runs the query against the view and prints the rows.
        func run(_ query: ViewQuery) async throws {
            let rows = try await query.rows(in: database.kappaDatabase(schema: schema), logger: Logger(label: "kappa.query"))
            print(try RowFormatter.format(rows, as: RowFormat(rawValue: format.rawValue)!), terminator: "")
        }
    }

    struct Rollups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rollups of one granularity, optionally one device and metric.")
        @Option(help: "Device id.") var device: String?
        @Option(help: "Metric name.") var metric: String?
        @Option(help: "Start time (timestamptz text, e.g. 2025-01-01T00:00:00Z; default: 24 h ago).") var since: String?
        @Option(help: "End time (exclusive; default: now).") var until: String?
        @Option(help: "1m, 1h, 1d, or another of the rollup widths (5m, …).") var granularity = "1m"
        @OptionGroup var output: Output

        func validate() throws {
            // The view's name: one width, written as its view writes it (60s is 1m).
            guard let width = try? ProcessorTuning.rollupWidths(granularity), width.count == 1,
                  RollupWidths.label(width[0]) == granularity else {
                throw ValidationError("--granularity must be a rollup width as its view names it: 1m, 1h, 1d, 5m, 90s, …")
            }
        }

        func run() async throws {
            try await output.run(.rollups(granularity: granularity, device: device, metric: metric, since: since, until: until))
        }
    }

    struct Latest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest value of each device and metric.")
        @Option(help: "Only this device.") var device: String?
        @OptionGroup var output: Output

        func run() async throws {
            try await output.run(.latest(device: device))
        }
    }

    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Devices seen: first and last seen, readings, online or offline, tags.")
        @OptionGroup var output: Output

        func run() async throws {
            try await output.run(.devices())
        }
    }

    struct Anomalies: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Anomaly episodes, newest first: which detector, score, value and expected range.")
        @Option(help: "Only this device.") var device: String?
        @Flag(help: "Only episodes still open.") var open = false
        @Option(help: "Only episodes started at or after this time (timestamptz text); default: however old, the newest --limit.") var since: String?
        @Option(help: "At most this many episodes, the newest.") var limit = 100
        @OptionGroup var output: Output

        func run() async throws {
            try await output.run(.anomalies(device: device, openOnly: open, since: since, limit: limit))
        }
    }
}
