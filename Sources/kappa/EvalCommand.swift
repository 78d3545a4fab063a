import ArgumentParser
import Foundation
import KappaCore
import KappaEvaluation
import KappaLog
import KappaStream
import Logging

/// `kappa eval …`: measure the processors against labelled data.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure the anomaly detectors against labelled data.",
        subcommands: [Anomalies.self]
    )

    struct Anomalies: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Episode-level precision, recall, F1 and median detection delay, per detector and overall.",
            discussion: """
                Without --labels, runs the simulator in-process for each seed (every anomaly kind mixed), appends \
                its readings in send order to a temporary log and runs the anomaly processor's pipeline over it. \
                With --labels, evaluates the log in --data-dir against the ground truth `kappa-sim --labels` wrote. \
                With --labelled, imports labelled real-world files (SKAB's `;`-separated wide files, each one device \
                named by its folder and file, or a long CSV `time,device,metric,value,label`) into a temporary log as \
                `kappa import` would, runs the same pipeline, and scores per row, per labelled stretch, false \
                episodes per 10,000 readings of files without anomalies, and the NAB early-detection score.
                """
        )

        @Option(help: "Comma-separated simulator seeds.") var seeds = "101,102,103"
        @Option(help: "Simulated devices per seed.") var devices = 200
        @Option(help: "Simulated event time per seed (30m, 12h, 2d…).") var duration = "12h"
        @Option(help: "Probability that a device tick starts an anomaly.") var anomalyRate = 0.0005
        @Option(help: "Probability that a message is sent twice (dropped as a duplicate by the pipeline).") var duplicateRate = 0.0
        @Option(help: "Ground-truth file (JSON Lines) of a recorded run; evaluates the log in --data-dir instead of simulating.")
        var labels: String?
        @Option(name: .customLong("labelled"), parsing: .upToNextOption, help: "Labelled data files or folders (every .csv under them).")
        var labelledPaths: [String] = []
        @Option(help: "The zone of zone-less timestamps in --labelled files.") var timezone = "UTC"
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "Seconds by which an episode may miss its label and still match.") var toleranceSeconds = 60.0
        @Option(name: .customLong("set"), help: "A detector default as key=value (see the anomaly configuration keys); repeatable.")
        var assignments: [String] = []
        @Flag(help: "After the table, list every false episode and every missed label (times in seconds from the run's start).")
        var showMisses = false

        func validate() throws {
            guard try labels != nil || !parsedSeeds().isEmpty else { throw ValidationError("--seeds needs at least one seed.") }
            guard DurationText.duration(duration) != nil else { throw ValidationError("--duration: expected e.g. 30m, 12h or 2d.") }
            guard devices > 0, (0...1).contains(anomalyRate), (0...1).contains(duplicateRate), toleranceSeconds >= 0 else {
                throw ValidationError("--devices must be positive; rates between 0 and 1; --tolerance-seconds not negative.")
            }
        }

        private func parsedSeeds() throws -> [UInt64] {
            try seeds.split(separator: ",").map { text in
                guard let seed = UInt64(text.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seeds: \(text) is not a seed") }
                return seed
            }
        }

        func run() async throws {
            let configuration = try reportingInputErrors { try AnomalyEvaluation.configuration(assignments: assignments) }
            if !labelledPaths.isEmpty {
                guard let zone = ImportTimeZone(timezone) else { throw ValidationError("--timezone: unknown zone \(timezone)") }
                let files = try reportingInputErrors { try LabelledEvaluation.files(labelledPaths) }
                let result = try await reportingInputErrors { try await LabelledEvaluation.run(files: files, configuration: configuration, timeZone: zone) }
                print("\(files.count) labelled file(s), \(result.readings) readings, \(result.episodes.count) episodes")
                print(result.evaluation.report)
                if showMisses {
                    for episode in result.episodes {
                        print("EPISODE \(episode.detector.name) \(episode.device)/\(episode.metric) \(episode.startTime)..\(episode.endTime.map { "\($0)" } ?? "open") detected \(episode.detectedAt) peak \((episode.peakScore * 10).rounded() / 10)")
                    }
                }
                return
            }
            let score: AnomalyEvaluation.Score
            if let labels {
                let text = try String(contentsOfFile: labels, encoding: .utf8)
                let log = try data.openReadOnly()
                defer { log.close() }
                score = try await AnomalyEvaluation.recorded(log: log, labels: text, configuration: configuration, tolerance: tolerance)
                print("log \(data.path) against \(labels)")
            } else {
                score = try await AnomalyEvaluation.simulated(
                    seeds: try parsedSeeds(), devices: devices, duration: DurationText.duration(duration)!, anomalyRate: anomalyRate,
                    duplicateRate: duplicateRate, configuration: configuration, tolerance: tolerance
                )
                print("seeds \(seeds): \(devices) devices × \(duration) each, \(score.readings) readings, anomaly rate \(anomalyRate), duplicate rate \(duplicateRate)")
            }
            print(score.evaluation.table)
            if showMisses {
                print(score.misses.report(origin: score.origin))
            }
        }

        private var tolerance: Int64 { Int64(toleranceSeconds * 1e9) }
    }
}
