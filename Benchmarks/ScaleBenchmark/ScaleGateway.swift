import Foundation
import KappaTestSupport

/// `kappa run` with every role, on its own data directory and database, as an operator starts it.
struct ScaleGateway {
    let process: KappaProcess
    let httpPort: Int

    static func start(brokerURL: String, conninfo: String, directory: String, clientID: String, topicPrefix: String) async throws -> ScaleGateway {
        let httpPort = LoopbackPort.free()
        let process = try KappaProcess(arguments: [
            "run", "--mqtt", brokerURL, "--client-id", clientID, "--data-dir", "\(directory)/data",
            "--topic", "\(topicPrefix)/devices/{device}/telemetry=json",
            "--database", conninfo, "--disk-floor-mb", "0", "--http", "127.0.0.1:\(httpPort)", "--log-level", "info",
        ], outputFile: "\(directory)/kappa-\(clientID)-\(UInt32.random(in: 0...UInt32.max)).log")
        let gateway = ScaleGateway(process: process, httpPort: httpPort)
        let deadline = ContinuousClock.now + .seconds(60)
        // Up, and subscribed (the first start makes the persistent session that keeps the backlog).
        while ContinuousClock.now < deadline, process.isRunning {
            if (try? await HTTPProbe.get("http://127.0.0.1:\(httpPort)/healthz"))?.status == 200,
               process.output.contains("MQTT subscriptions confirmed") { return gateway }
            try await Task.sleep(for: .milliseconds(50))
        }
        fatalError("kappa run did not start:\n\(process.output.suffix(2_000))")
    }

    func metrics() async -> PrometheusSamples {
        guard let response = try? await HTTPProbe.get("http://127.0.0.1:\(httpPort)/metrics") else { return PrometheusSamples(parsing: "") }
        return PrometheusSamples(parsing: response.body)
    }

    func waitUntilConnected() async {
        while await metrics().total("kappa_mqtt_connected") != 1 {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() async {
        process.signal(SIGTERM)
        guard await process.waitForExit(timeout: .seconds(300)) == 0 else {
            fatalError("kappa did not stop cleanly:\n\(process.output.suffix(2_000))")
        }
    }
}

/// Checkpoint durations per processor, from /metrics: `kappa_processor_checkpoint_seconds` holds the last
/// checkpoint's duration, so a sample is taken whenever `kappa_processor_checkpoints_total` moved. Checkpoints
/// shorter than the scrape interval that follow each other are seen as their last one only.
struct CheckpointDurations {
    private var lastCount: [String: Double] = [:]
    private(set) var seconds: [String: [Double]] = [:]
    private(set) var checkpoints: [String: Double] = [:]

    mutating func observe(_ metrics: PrometheusSamples, recording: Bool) {
        let durations = Dictionary(metrics.values("kappa_processor_checkpoint_seconds").map { ($0.labels["processor"] ?? "?", $0.value) }) { first, _ in first }
        for sample in metrics.values("kappa_processor_checkpoints_total") {
            let processor = sample.labels["processor"] ?? "?"
            let previous = lastCount[processor] ?? sample.value
            lastCount[processor] = sample.value
            guard recording, sample.value > previous else { continue }
            checkpoints[processor, default: 0] += sample.value - previous
            if let duration = durations[processor] { seconds[processor, default: []].append(duration) }
        }
    }
}
