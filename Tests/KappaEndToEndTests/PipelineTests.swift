import Foundation
import KappaCore
import KappaPostgres
import KappaSimulator
import KappaTestSupport
import Testing

/// `kappa run` with every role between a real broker and a real PostgreSQL, fed by `kappa-sim`.
@Suite("kappa run: the whole pipeline", .serialized, .timeLimit(.minutes(3)))
struct PipelineTests {
    /// What the simulator sends for a scenario, counted the way the gateway must count it.
    struct Expectation {
        var published = 0
        /// Readings of messages that are neither malformed nor a duplicate copy, per "device/metric".
        var readingsBySeries: [String: Int64] = [:]
        var deadLettersByReason: [String: Int] = [:]
        var duplicates = 0
        /// Readings in the duplicate copies: appended to the log, dropped by the processors.
        var duplicateReadings: Int64 = 0
        /// The injected signal anomalies (not the transport chaos).
        var anomalies: [GroundTruthLabel] = []

        var readings: Int64 { readingsBySeries.values.reduce(0, +) }
        var deadLetters: Int { deadLettersByReason.values.reduce(0, +) }

        init(_ scenario: FleetScenario) {
            var fleet = Fleet(scenario)
            var labels: [GroundTruthLabel] = []
            while let message = fleet.next() {
                published += 1
                labels += message.labels
                if message.chaos == .duplicate {
                    duplicates += 1
                    duplicateReadings += Int64(message.readings.count)
                    continue
                }
                if message.isBad { continue }
                for reading in message.readings {
                    readingsBySeries["\(reading.device)/\(reading.metric)", default: 0] += 1
                }
            }
            labels += fleet.finish()
            anomalies = labels.filter { if case .anomaly = $0.kind { true } else { false } }
            for label in labels {
                if case .chaos(let kind) = label.kind, kind == .malformed || kind == .oversized, let reason = label.reason {
                    deadLettersByReason[reason.rawValue, default: 0] += 1
                }
            }
        }
    }

    func simulatorArguments(_ scenario: FleetScenario, brokerURL: String, labels: String) -> [String] {
        [
            "--mqtt", brokerURL, "--topic-prefix", scenario.topicPrefix, "--quiet", "--fast",
            "--devices", String(scenario.deviceCount), "--seed", String(scenario.seed),
            "--start", String(scenario.start.nanosecondsSinceEpoch / 1_000_000),
            "--duration", "\((scenario.end!.nanosecondsSinceEpoch - scenario.start.nanosecondsSinceEpoch) / 1_000_000_000)s",
            "--anomaly-rate", String(scenario.anomalyRate),
            "--duplicate-rate", String(scenario.chaos.duplicate), "--malformed-rate", String(scenario.chaos.malformed),
            "--labels", labels,
        ]
    }

    func rollupCounts(_ gateway: GatewayUnderTest, view: String) async throws -> [String: Int64] {
        try await gateway.withDatabase { connection in
            let rows = try await connection.query("SELECT device || '/' || metric AS series, sum(count)::bigint AS readings FROM kappa.\(view) GROUP BY 1")
            return Dictionary(uniqueKeysWithValues: try rows.map { (try $0["series"].string, try $0["readings"].int64) })
        }
    }

    @Test("labelled simulator run: rollups count every reading once, dead letters match the malformed messages, /metrics agrees, SIGTERM ends with a final checkpoint")
    func labelledRunIsAccountedFor() async throws {
        try await GatewayUnderTest.withFresh(name: "pipeline", checkLabelledRun)
    }

    private func checkLabelledRun(_ gateway: GatewayUnderTest) async throws {
        let process = try await gateway.start()
        // A fixed start an hour back (inside every retention window), so the run and the in-process fleet
        // generate byte-identical messages.
        let startMilliseconds = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 3600) * 1000
        let scenario = FleetScenario(
            seed: 11, deviceCount: 12, start: Timestamp(millisecondsSinceEpoch: startMilliseconds),
            end: Timestamp(millisecondsSinceEpoch: startMilliseconds + 20 * 60 * 1000),
            topicPrefix: gateway.topicPrefix, anomalyRate: 0.002,
            chaos: ChaosRates(duplicate: 0.01, malformed: 0.005)
        )
        let expected = Expectation(scenario)
        try #require(expected.duplicates > 0 && expected.deadLetters > 0, "the scenario should inject duplicates and malformed messages")

        let simulator = try KappaProcess(
            "kappa-sim", arguments: simulatorArguments(scenario, brokerURL: gateway.broker.url, labels: "\(gateway.root)/truth.jsonl"),
            outputFile: "\(gateway.root)/kappa-sim.log"
        )
        #expect(await simulator.waitForExit(timeout: .seconds(60)) == 0, "kappa-sim failed:\n\(simulator.output)")
        #expect(simulator.output.contains("published      \(expected.published) messages"), "the simulator and the in-process fleet disagree:\n\(simulator.output)")

        // (a) Every reading arrives once: per series, in every rollup width, the device registry and the archive.
        let arrived = await gateway.eventually(timeout: .seconds(30)) {
            try await rollupCounts(gateway, view: "rollups_1m") == expected.readingsBySeries
        }
        let rollups1m = try await rollupCounts(gateway, view: "rollups_1m")
        #expect(arrived, "rollups_1m: \(rollups1m.values.reduce(0, +)) readings, expected \(expected.readings)\n\(process.output.suffix(2000))")
        #expect(try await rollupCounts(gateway, view: "rollups_1h") == expected.readingsBySeries)
        #expect(try await rollupCounts(gateway, view: "rollups_1d") == expected.readingsBySeries)
        #expect(await gateway.eventually(timeout: .seconds(10)) {
            try await gateway.scalar("SELECT sum(readings)::bigint FROM kappa.devices") == expected.readings
        })
        #expect(await gateway.eventually(timeout: .seconds(10)) {
            try await gateway.scalar("SELECT count(*) FROM kappa.readings") == expected.readings
        })
        #expect(try await gateway.scalar("SELECT count(DISTINCT device) FROM kappa.devices") == Int64(scenario.deviceCount))

        // Dead letters: one per malformed message, with the reason the simulator says it deserves.
        #expect(await gateway.eventually(timeout: .seconds(10)) {
            try await gateway.scalar("SELECT count(*) FROM kappa.dead_letters") == Int64(expected.deadLetters)
        })
        let reasons = try await gateway.withDatabase { connection in
            let rows = try await connection.query("SELECT reason, count(*)::bigint AS n FROM kappa.dead_letters GROUP BY reason")
            return Dictionary(uniqueKeysWithValues: try rows.map { (try $0["reason"].string, Int(try $0["n"].int64)) })
        }
        #expect(reasons == expected.deadLettersByReason)

        // (c) The injected anomalies are rows: each label of a kind the default detectors are held to (drift
        // slower than the baseline follows is not) overlaps an anomaly episode of its device and metric
        // (or of the whole device), allowing a minute of detection delay.
        let detectable = expected.anomalies.filter { label in
            if case .anomaly(let kind) = label.kind { kind != .drift } else { false }
        }
        try #require(detectable.count >= 3, "the scenario should inject anomalies: \(expected.anomalies)")
        let episodes = try await gateway.withDatabase { connection in
            try await connection.query("""
                SELECT device, metric, (extract(epoch FROM start_time) * 1000)::bigint AS start_ms,
                       (extract(epoch FROM coalesce(end_time, 'infinity'::timestamptz)) * 1000)::float8 AS end_ms
                FROM kappa.anomalies
                """).map { (device: try $0["device"].string, metric: try $0["metric"].string, start: try $0["start_ms"].int64, end: try $0["end_ms"].double) }
        }
        let toleranceMilliseconds: Int64 = 60_000
        let missed = detectable.filter { label in
            let start = label.start.nanosecondsSinceEpoch / 1_000_000, end = label.end.nanosecondsSinceEpoch / 1_000_000
            return !episodes.contains { episode in
                episode.device == label.device && (episode.metric == label.metric || episode.metric == "*" || label.metric == "*")
                    && episode.start <= end + toleranceMilliseconds && episode.end + Double(toleranceMilliseconds) >= Double(start)
            }
        }
        #expect(Double(missed.count) <= Double(detectable.count) * 0.2,
                "\(missed.count) of \(detectable.count) injected anomalies have no episode: \(missed.map { "\($0.device)/\($0.metric) \($0.kind.name)" })")

        // (b) /metrics: the documented series, with the values the run implies.
        let messagesReceived = expected.published
        var metrics = try await gateway.metrics()
        #expect(metrics.total("kappa_mqtt_messages_total") == Double(messagesReceived))
        #expect(metrics.total("kappa_mqtt_messages_total", matching: ["template": "\(gateway.topicPrefix)/devices/{device}/telemetry"]) == Double(messagesReceived))
        #expect(metrics.total("kappa_mqtt_connected") == 1)
        // Duplicate copies are appended too (the processors drop them), so the log holds readings plus copies.
        let appended = metrics.total("kappa_readings_appended_total")
        #expect(appended == Double(expected.readings + expected.duplicateReadings))
        #expect(metrics.total("kappa_dead_letters_total") == Double(expected.deadLetters))
        for (reason, count) in expected.deadLettersByReason {
            #expect(metrics.total("kappa_dead_letters_total", matching: ["reason": reason]) == Double(count), "dead letters for \(reason)")
        }
        #expect(metrics.total("kappa_log_bytes", matching: ["stream": KappaStreams.readings]) > appended * 10)
        #expect(metrics.total("kappa_log_high_watermark", matching: ["stream": KappaStreams.readings]) == appended)
        #expect(metrics.total("kappa_database_up") == 1)
        let processors = Set(metrics.values("kappa_processor_lag_records").compactMap { $0.labels["processor"] })
        #expect(processors.isSuperset(of: ["rollups", "devices", "archive", "dead-letters"]), "processors reported: \(processors)")
        #expect(await gateway.eventually(timeout: .seconds(10)) {
            metrics = try await gateway.metrics()
            return metrics.total("kappa_processor_lag_records") == 0
        })
        #expect(metrics.values("kappa_processor_checkpoint_seconds").allSatisfy { $0.value > 0 && $0.value < 30 })
        #expect(metrics.values("kappa_processor_checkpoints_total").allSatisfy { $0.value >= 1 })
        #expect(metrics.total("kappa_processor_postgres_errors_total") == 0)
        #expect(metrics.total("kappa_processor_duplicates_total", matching: ["processor": "rollups"]) == Double(expected.duplicateReadings))
        for family in ["kappa_mqtt_messages_total", "kappa_readings_appended_total", "kappa_dead_letters_total", "kappa_processor_postgres_errors_total"] {
            #expect(metrics.declaredFamilies[family] == "counter", "\(family) should be a counter")
        }
        for family in ["kappa_log_bytes", "kappa_processor_lag_records", "kappa_processor_checkpoint_seconds", "kappa_database_up"] {
            #expect(metrics.declaredFamilies[family] == "gauge", "\(family) should be a gauge")
        }
        #expect(await gateway.readinessStatus() == 200)

        // (d) SIGTERM: exit 0 promptly, every processor committed up to the end of its stream.
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(20))
        #expect(status == 0, "SIGTERM should stop kappa cleanly within 20 s:\n\(process.output.suffix(2000))")
        try await gateway.expectFullyCommitted()
    }
}
