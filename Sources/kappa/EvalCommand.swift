import ArgumentParser
import Foundation
import KappaCore
import KappaLog
import KappaSimulator
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
            guard TimeText.duration(duration) != nil else { throw ValidationError("--duration: expected e.g. 30m, 12h or 2d.") }
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

        /// The defaults with each `--set` applied in the order given.
        private func detectorConfiguration() throws -> AnomalyConfiguration {
            var defaults = DetectorSettings()
            for assignment in assignments {
                let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let value = Double(parts[1]) else { throw ValidationError("--set: expected key=value, got \(assignment)") }
                try defaults.set(parts[0], to: value)
            }
            return AnomalyConfiguration(defaults: defaults)
        }

        func run() async throws {
            let configuration = try detectorConfiguration()
            if !labelledPaths.isEmpty {
                guard let zone = ImportTimeZone(timezone) else { throw ValidationError("--timezone: unknown zone \(timezone)") }
                let files = try LabelledEvaluation.files(labelledPaths)
                let result = try await LabelledEvaluation.run(files: files, configuration: configuration, timeZone: zone)
                print("\(files.count) labelled file(s), \(result.readings) readings, \(result.episodes.count) episodes")
                print(result.evaluation.report)
                if showMisses {
                    for episode in result.episodes {
                        print("EPISODE \(episode.detector.name) \(episode.device)/\(episode.metric) \(episode.startTime)..\(episode.endTime.map { "\($0)" } ?? "open") detected \(episode.detectedAt) peak \((episode.peakScore * 10).rounded() / 10)")
                    }
                }
                return
            }
            let evaluation: EpisodeEvaluation
            let misses: EvaluationMisses
            let origin: Timestamp
            if let labels {
                let text = try String(contentsOfFile: labels, encoding: .utf8)
                let log = try data.openReadOnly()
                defer { log.close() }
                let parsed = try AnomalyLabelParser.parse(text)
                let (episodes, newest) = try await AnomalyEvaluation.episodes(log: log, configuration: configuration)
                evaluation = EpisodeEvaluation(episodes: episodes, labels: parsed, tolerance: tolerance, openEnd: newest)
                misses = EvaluationMisses(episodes: episodes, labels: parsed, tolerance: tolerance, openEnd: newest)
                origin = parsed.map(\.start).min() ?? Timestamp(nanosecondsSinceEpoch: 0)
                print("log \(data.path) against \(labels)")
            } else {
                let seedList = try parsedSeeds()
                var scenario = FleetScenario(start: Timestamp(secondsSinceEpoch: 1_767_225_600), anomalyRate: anomalyRate)
                scenario.deviceCount = devices
                scenario.end = scenario.start.adding(nanoseconds: TimeText.duration(duration)!.wholeNanoseconds)
                scenario.chaos = ChaosRates(duplicate: duplicateRate)
                let result = try await AnomalyEvaluation.simulate(seeds: seedList, scenario: scenario, configuration: configuration)
                evaluation = EpisodeEvaluation(episodes: result.episodes, labels: result.labels, tolerance: tolerance, openEnd: scenario.end)
                misses = EvaluationMisses(episodes: result.episodes, labels: result.labels, tolerance: tolerance, openEnd: scenario.end)
                origin = scenario.start
                print("seeds \(seeds): \(devices) devices × \(duration) each, \(result.readings) readings, anomaly rate \(anomalyRate), duplicate rate \(duplicateRate)")
            }
            print(evaluation.table)
            if showMisses {
                print(misses.report(origin: origin))
            }
        }

        private var tolerance: Int64 { Int64(toleranceSeconds * 1e9) }
    }
}

/// What `kappa eval anomalies` does, apart from parsing its options.
enum AnomalyEvaluation {
    static func episodes(log: DiskLog, configuration: AnomalyConfiguration) async throws -> (episodes: [AnomalyEpisode], newestEventTime: Timestamp?) {
        let stream = try log.openStream(named: KappaStreams.readings)
        var pipeline = AnomalyPipeline(
            configuration: configuration, partitionCount: stream.partitionCount,
            duplicateWindowRecords: ProcessorConfiguration().duplicateWindowRecords
        )
        return try await pipeline.run(over: stream)
    }

    /// Simulates each seed into a temporary log (readings in send order, as the bridge would append them),
    /// runs the pipeline over it, and gathers all seeds' episodes and labels (device ids prefixed by their seed).
    static func simulate(seeds: [UInt64], scenario: FleetScenario, configuration: AnomalyConfiguration) async throws -> (episodes: [AnomalyEpisode], labels: [AnomalyLabel], readings: Int) {
        var allEpisodes: [AnomalyEpisode] = []
        var allLabels: [AnomalyLabel] = []
        var readingCount = 0
        for seed in seeds {
            var scenario = scenario
            scenario.seed = seed
            let log = try ThrowawayLog(name: "seed-\(seed)")
            defer { log.close() }
            let stream = log.readings
            var fleet = Fleet(scenario)
            var labels: [GroundTruthLabel] = []
            var batch: [LogAppendRecord] = []
            while let message = fleet.next() {
                labels += message.labels
                for reading in message.readings {
                    batch.append(LogAppendRecord(reading: reading))
                }
                if batch.count >= 10_000 {
                    _ = try stream.append(batch)
                    readingCount += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
            }
            _ = try stream.append(batch)
            readingCount += batch.count
            labels += fleet.finish()
            let (episodes, _) = try await episodes(log: log.log, configuration: configuration)
            let prefix = "s\(seed)/"
            allEpisodes += episodes.map { episode in
                var episode = episode
                episode.device = prefix + episode.device
                return episode
            }
            allLabels += labels.map { label in
                AnomalyLabel(device: prefix + label.device, metric: label.metric, kind: .init(label.kind.name), start: label.start, end: label.end)
            }
        }
        return (allEpisodes, allLabels, readingCount)
    }
}
