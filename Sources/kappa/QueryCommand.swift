import ArgumentParser
import KappaPostgres
import KappaStream
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

        /// Runs `sql` against the view and prints the rows.
        func run(_ sql: (String) -> String, _ parameters: [PostgresValue]) async throws {
            let connection = try await PostgresConnection.connect(database.configuration(), logger: Logger(label: "kappa.query"))
            let rows: PostgresRows
            do {
                rows = try await connection.query(sql(PostgresIdentifier(schema.name).quoted), parameters)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
            print(try RowFormatter.format(rows, as: format), terminator: "")
        }
    }

    struct Rollups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rollups of one granularity, optionally one device and metric.")
        @Option(help: "Device id.") var device: String?
        @Option(help: "Metric name.") var metric: String?
        @Option(help: "Start time (timestamptz text, e.g. 2025-01-01T00:00:00Z; default: 24 h ago).") var since: String?
        @Option(help: "End time (exclusive; default: now).") var until: String?
        @Option(help: "1m, 1h or 1d.") var granularity = "1m"
        @OptionGroup var output: Output

        func validate() throws {
            guard ["1m", "1h", "1d"].contains(granularity) else { throw ValidationError("--granularity must be 1m, 1h or 1d.") }
        }

        func run() async throws {
            let view = "rollups_\(granularity)"
            try await output.run({ schema in
                """
                SELECT device, metric, bucket, count, sum, min, max, mean, stddev, first_value, first_time, last_value, last_time
                FROM \(schema).\(PostgresIdentifier(view).quoted)
                WHERE ($1::text IS NULL OR device = $1) AND ($2::text IS NULL OR metric = $2)
                  AND bucket >= coalesce($3::timestamptz, now() - interval '1 day') AND bucket < coalesce($4::timestamptz, 'infinity')
                ORDER BY device, metric, bucket
                """
            }, [PostgresValue(device), PostgresValue(metric), since.map(PostgresValue.untyped) ?? .null, until.map(PostgresValue.untyped) ?? .null])
        }
    }

    struct Latest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest value of each device and metric.")
        @Option(help: "Only this device.") var device: String?
        @OptionGroup var output: Output

        func run() async throws {
            try await output.run({ schema in
                "SELECT device, metric, time, value FROM \(schema).latest WHERE ($1::text IS NULL OR device = $1) ORDER BY device, metric"
            }, [PostgresValue(device)])
        }
    }

    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Devices seen: first and last seen, readings, online or offline, tags.")
        @OptionGroup var output: Output

        func run() async throws {
            try await output.run({ schema in
                "SELECT device, first_seen, last_seen, readings, status, tags FROM \(schema).devices ORDER BY device"
            }, [])
        }
    }
}

extension QueryCommand {
    struct Anomalies: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Anomaly episodes, newest first: which detector, score, value and expected range.")
        @Option(help: "Only this device.") var device: String?
        @Flag(help: "Only episodes still open.") var open = false
        @Option(help: "Only episodes started at or after this time (timestamptz text); default: however old, the newest --limit.") var since: String?
        @Option(help: "At most this many episodes, the newest.") var limit = 100
        @OptionGroup var output: Output

        func run() async throws {
            // Newest first with a limit, not a fixed window: imported or replayed history older than a day
            // still shows.
            try await output.run({ schema in
                """
                SELECT device, metric, start_time, detected_at, end_time, detector, peak_score, value, expected_low, expected_high, severity
                FROM \(schema).anomalies
                WHERE ($1::text IS NULL OR device = $1) AND (NOT $2::boolean OR end_time IS NULL)
                  AND ($3::timestamptz IS NULL OR start_time >= $3::timestamptz)
                ORDER BY start_time DESC, device, metric, detector
                LIMIT $4
                """
            }, [PostgresValue(device), .bool(open), since.map(PostgresValue.untyped) ?? .null, .int64(Int64(max(0, limit)))])
        }
    }
}

/// Prints rows as an aligned table, CSV (RFC 4180 quoting) or JSON (an array of objects; numbers as numbers).
enum RowFormatter {
    static func format(_ rows: PostgresRows, as format: QueryCommand.Format) throws -> String {
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
