import Foundation
import KappaTestSupport

/// `kappa run` with every role, on its own data directory and database, as an operator starts it.
typealias ScaleGateway = RunningGateway

extension RunningGateway {
    static func start(brokerURL: String, conninfo: String, directory: String, clientID: String, topicPrefix: String) async throws -> RunningGateway {
        try await start([
            "--mqtt", brokerURL, "--client-id", clientID, "--data-dir", "\(directory)/data",
            "--topic", "\(topicPrefix)/devices/{device}/telemetry=json",
            "--database", conninfo, "--disk-floor-mb", "0", "--log-level", "info",
        ], outputFile: "\(directory)/kappa-\(clientID)-\(UInt32.random(in: 0...UInt32.max)).log", startTimeout: .seconds(60))
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
