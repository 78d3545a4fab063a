import Foundation
import KappaCore
import KappaPostgres
import KappaSimulator
import KappaStream
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

        // (c) The injected anomalies are rows: by the evaluation's own matching rule (a minute of tolerance),
        // each label of the ground-truth file kappa-sim wrote, of a kind the default detectors are held to
        // (drift slower than the baseline follows is not), overlaps an anomaly episode.
        // The anomaly processor is checked on what it wrote once it has consumed everything, not while it may
        // still lag behind the rollups (under load it does).
        #expect(await gateway.eventually(timeout: .seconds(30)) { try await gateway.metrics().total("kappa_processor_lag_records") == 0 })
        let labels = try AnomalyLabelParser.parse(String(contentsOfFile: "\(gateway.root)/truth.jsonl", encoding: .utf8))
            .filter { $0.kind.isAnomaly && $0.kind != .drift }
        try #require(labels.count >= 3, "the scenario should inject anomalies: \(labels)")
        let episodes = try await gateway.withDatabase { connection in
            try await connection.query("SELECT device, metric, detector, start_time, end_time, peak_score, severity FROM kappa.anomalies").map { row in
                AnomalyEpisode(
                    device: try row["device"].string, metric: try row["metric"].string,
                    detector: try #require(AnomalyDetector(name: try row["detector"].string)),
                    startTime: try row["start_time"].timestamp, detectedAt: try row["start_time"].timestamp,
                    endTime: row["end_time"].isNull ? nil : try row["end_time"].timestamp, peakScore: try row["peak_score"].double,
                    value: nil, expectedLow: nil, expectedHigh: nil, severity: try row["severity"].string == "critical" ? .critical : .warning
                )
            }
        }
        let rule = EpisodeMatchRule(tolerance: 60_000_000_000, openEnd: .now())
        let missed = labels.filter { label in !episodes.contains { rule.matches($0, label) } }
        #expect(Double(missed.count) <= Double(labels.count) * 0.2,
                "\(missed.count) of \(labels.count) injected anomalies have no episode: \(missed.map { "\($0.device)/\($0.metric) \($0.kind)" })")

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
