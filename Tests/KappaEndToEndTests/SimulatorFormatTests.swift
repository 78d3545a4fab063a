import Foundation
import KappaCore
import KappaPostgres
import KappaSimulator
import KappaStream
import KappaTestSupport
import Testing

/// Each device-family format and Sparkplug, end to end: `kappa-sim --print-routes` says how to run the
/// gateway, `kappa run` is started with exactly what it printed, and the fleet's readings must all arrive,
/// with their device timestamps and the values the route gives strings and booleans, and no dead letter.
@Suite("kappa-sim formats through kappa run, configured by --print-routes", .serialized, .timeLimit(.minutes(4)))
struct SimulatorFormatTests {
    /// Splits a printed line as a POSIX shell would: words, single-quoted parts (with `'\''` for a quote).
    static func shellWords(_ line: Substring) -> [String] {
        var words: [String] = []
        var word: String? = nil
        var quoted = false
        var escaped = false
        for character in line {
            if quoted {
                if character == "'" { quoted = false } else { word!.append(character) }
            } else if escaped {
                word = (word ?? "") + String(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "'" {
                quoted = true
                word = word ?? ""
            } else if character == " " || character == "\t" {
                if let finished = word { words.append(finished) }
                word = nil
            } else {
                word = (word ?? "") + String(character)
            }
        }
        if let word { words.append(word) }
        return words
    }

    /// What `kappa-sim --print-routes` prints for `arguments`, as `kappa run` arguments.
    func printedRoutes(_ arguments: [String], directory: String) async throws -> [String] {
        let process = try KappaProcess("kappa-sim", arguments: arguments + ["--print-routes"], outputFile: "\(directory)/print-routes.txt")
        let status = await process.waitForExit(timeout: .seconds(30))
        try #require(status == 0, "kappa-sim --print-routes failed:\n\(process.output)")
        return process.output.split(separator: "\n").flatMap { Self.shellWords($0) }
    }

    /// `device|metric|epoch ms|value|tag=value,…` of each reading.
    static func row(device: String, metric: String, milliseconds: Int64, value: Double, tags: String) -> String {
        "\(device)|\(metric)|\(milliseconds)|\(value)|\(tags)"
    }

    func storedReadings(_ gateway: GatewayUnderTest) async throws -> [String] {
        try await gateway.withDatabase { connection in
            let rows = try await connection.query("""
                SELECT device, metric, (extract(epoch FROM time) * 1000)::bigint AS ms, value,
                       coalesce((SELECT string_agg(key || '=' || v, ',' ORDER BY key) FROM jsonb_each_text(coalesce(tags, '{}'::jsonb)) AS t(key, v)), '') AS tags
                FROM kappa.readings
                """)
            return try rows.map { row in
                Self.row(device: try row["device"].string, metric: try row["metric"].string, milliseconds: try row["ms"].int64,
                         value: try row["value"].double, tags: try row["tags"].string)
            }.sorted()
        }
    }

    @Test("every simulated reading maps, with its device time and mapped strings and booleans, and nothing is dead-lettered",
          arguments: [TelemetryFormat.zigbee2mqtt, .tasmota, .shelly, .ttn, .sparkplug])
    func format(_ format: TelemetryFormat) async throws {
        try await GatewayUnderTest.withFresh(name: "sim-\(format.rawValue)") { gateway in
            let group = "kappa-test-\(UInt32.random(in: 0...UInt32.max))"
            let startMilliseconds = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 3600) * 1000
            let scenario = FleetScenario(
                seed: 21, deviceCount: 6, start: Timestamp(millisecondsSinceEpoch: startMilliseconds),
                end: Timestamp(millisecondsSinceEpoch: startMilliseconds + 10 * 60 * 1000),
                format: format, topicPrefix: gateway.topicPrefix, anomalyRate: 0.01,
                sparkplug: SparkplugFleetLayout(group: group, devicesPerEdgeNode: 4)
            )
            let formatArguments = [
                "--format", format.rawValue, "--topic-prefix", gateway.topicPrefix,
                "--sparkplug-group", group, "--devices-per-edge-node", "4",
            ]
            let routes = try await printedRoutes(formatArguments, directory: gateway.root)
            #expect(routes.first == (format == .sparkplug ? "--sparkplug" : "--topic"), "\(routes)")
            let process = try await gateway.start(extraArguments: routes)

            var fleet = Fleet(scenario)
            var expected: [String] = []
            var messages = 0
            while let message = fleet.next() {
                messages += 1
                for reading in message.readings {
                    let tags = reading.tags.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                    expected.append(Self.row(device: reading.device, metric: reading.metric, milliseconds: reading.time.nanosecondsSinceEpoch / 1_000_000,
                                             value: reading.value, tags: tags))
                }
            }
            expected.sort()
            try #require(expected.count > 500)

            let labelsPath = "\(gateway.root)/truth.jsonl"
            let simulator = try KappaProcess("kappa-sim", arguments: formatArguments + [
                "--mqtt", gateway.broker.url, "--quiet", "--fast", "--devices", "6", "--seed", "21",
                "--start", String(startMilliseconds), "--duration", "600s", "--anomaly-rate", "0.01", "--labels", labelsPath,
            ], outputFile: "\(gateway.root)/kappa-sim.log")
            #expect(await simulator.waitForExit(timeout: .seconds(60)) == 0, "kappa-sim failed:\n\(simulator.output)")
            // Sparkplug adds an NBIRTH per edge node; a device's first tick is its DBIRTH instead of a DDATA.
            let published = messages + (format == .sparkplug ? 2 : 0)
            #expect(simulator.output.contains("published      \(published) messages"), "\(simulator.output)")

            let arrived = await gateway.eventually(timeout: .seconds(40)) {
                try await gateway.scalar("SELECT count(*) FROM kappa.readings") >= Int64(expected.count)
            }
            let storedCount = try await gateway.scalar("SELECT count(*) FROM kappa.readings")
            #expect(arrived, "\(storedCount) of \(expected.count) readings\n\(process.output.suffix(2000))")
            let stored = try await storedReadings(gateway)
            #expect(stored.count == expected.count)
            #expect(stored == expected, "first difference: \(zip(stored, expected).first { $0 != $1 }.map { "stored \($0.0), expected \($0.1)" } ?? "none")")

            #expect(try await gateway.scalar("SELECT count(*) FROM kappa.dead_letters") == 0)
            let metrics = try await gateway.metrics()
            #expect(metrics.total("kappa_dead_letters_total") == 0)

            // The labels name series the gateway stored.
            let labels = try AnomalyLabelParser.parse(String(contentsOfFile: labelsPath, encoding: .utf8))
            try #require(!labels.isEmpty)
            let series = Set(stored.map { $0.split(separator: "|").prefix(2).joined(separator: "|") })
            let devices = Set(stored.map { String($0.split(separator: "|")[0]) })
            for label in labels {
                #expect(label.metric == "*" ? devices.contains(label.device) : series.contains("\(label.device)|\(label.metric)"), "\(label)")
            }
        }
    }
}
