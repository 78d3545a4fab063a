import KappaCore
import KappaLog
import KappaSimulator
import KappaStream

/// `kappa eval anomalies` without `--labelled`: the anomaly processor's pipeline over a recorded log, or over
/// what the simulator sends.
public enum AnomalyEvaluation {
    /// The detector defaults with each `key=value` assignment applied in the order given.
    public static func configuration(assignments: [String]) throws -> AnomalyConfiguration {
        var defaults = DetectorSettings()
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Double(parts[1]) else { throw EvaluationInputError("--set: expected key=value, got \(assignment)") }
            try defaults.set(parts[0], to: value)
        }
        return AnomalyConfiguration(defaults: defaults)
    }

    /// The episodes the pipeline finds in the log's readings stream, and the newest event time it saw.
    public static func episodes(log: DiskLog, configuration: AnomalyConfiguration) async throws -> (episodes: [AnomalyEpisode], newestEventTime: Timestamp?) {
        let stream = try log.openStream(named: KappaStreams.readings)
        var pipeline = AnomalyPipeline(
            configuration: configuration, partitionCount: stream.partitionCount,
            duplicateWindowRecords: ProcessorConfiguration().duplicateWindowRecords
        )
        return try await pipeline.run(over: stream)
    }

    /// The simulated fleet of one evaluation: `devices` devices from 2026-01-01 for `duration` of event time.
    public static func scenario(devices: Int, duration: Duration, anomalyRate: Double, duplicateRate: Double) -> FleetScenario {
        var scenario = FleetScenario(start: Timestamp(secondsSinceEpoch: 1_767_225_600), anomalyRate: anomalyRate)
        scenario.deviceCount = devices
        scenario.end = scenario.start.adding(nanoseconds: duration.nanoseconds)
        scenario.chaos = ChaosRates(duplicate: duplicateRate)
        return scenario
    }

    /// Episodes scored against labels: the table, the misses, and the time the misses are counted from.
    public struct Score {
        public var evaluation: EpisodeEvaluation
        public var misses: EvaluationMisses
        /// Where `misses.report(origin:)` counts seconds from: the run's start.
        public var origin: Timestamp
        /// Readings the pipeline went through (0 for a recorded log, which is not counted).
        public var readings: Int

        public init(episodes: [AnomalyEpisode], labels: [AnomalyLabel], tolerance: Int64, openEnd: Timestamp?, origin: Timestamp, readings: Int) {
            evaluation = EpisodeEvaluation(episodes: episodes, labels: labels, tolerance: tolerance, openEnd: openEnd)
            misses = EvaluationMisses(episodes: episodes, labels: labels, tolerance: tolerance, openEnd: openEnd)
            self.origin = origin
            self.readings = readings
        }
    }

    /// A recorded log (`kappa-sim --labels` wrote the ground truth, JSON Lines) through the pipeline.
    public static func recorded(log: DiskLog, labels text: String, configuration: AnomalyConfiguration, tolerance: Int64) async throws -> Score {
        let labels = try AnomalyLabelParser.parse(text)
        let (episodes, newest) = try await episodes(log: log, configuration: configuration)
        return Score(
            episodes: episodes, labels: labels, tolerance: tolerance, openEnd: newest,
            origin: labels.map(\.start).min() ?? Timestamp(nanosecondsSinceEpoch: 0), readings: 0
        )
    }

    /// The simulated fleet of ``scenario(devices:duration:anomalyRate:duplicateRate:)`` for each seed, through the pipeline.
    public static func simulated(
        seeds: [UInt64], devices: Int, duration: Duration, anomalyRate: Double, duplicateRate: Double,
        configuration: AnomalyConfiguration, tolerance: Int64
    ) async throws -> Score {
        let scenario = scenario(devices: devices, duration: duration, anomalyRate: anomalyRate, duplicateRate: duplicateRate)
        let result = try await simulate(seeds: seeds, scenario: scenario, configuration: configuration)
        return Score(
            episodes: result.episodes, labels: result.labels, tolerance: tolerance, openEnd: scenario.end,
            origin: scenario.start, readings: result.readings
        )
    }

    /// Simulates each seed into a temporary log (readings in send order, as the bridge would append them),
    /// runs the pipeline over it, and gathers all seeds' episodes and labels (device ids prefixed by their seed).
    public static func simulate(seeds: [UInt64], scenario: FleetScenario, configuration: AnomalyConfiguration) async throws -> (episodes: [AnomalyEpisode], labels: [AnomalyLabel], readings: Int) {
        var allEpisodes: [AnomalyEpisode] = []
        var allLabels: [AnomalyLabel] = []
        var readingCount = 0
        for seed in seeds {
            var scenario = scenario
            scenario.seed = seed
            let scenarioOfSeed = scenario
            // Simulating appends to a log on disk: off the cooperative pool.
            let (log, labels, appended) = try await Blocking.run { () throws -> (ThrowawayLog, [GroundTruthLabel], Int) in
                let log = try ThrowawayLog(name: "seed-\(seed)")
                var fleet = Fleet(scenarioOfSeed)
                var labels: [GroundTruthLabel] = []
                var batch: [LogAppendRecord] = []
                var appended = 0
                while let message = fleet.next() {
                    labels += message.labels
                    for reading in message.readings {
                        batch.append(LogAppendRecord(reading: reading))
                    }
                    if batch.count >= 10_000 {
                        _ = try log.readings.append(batch)
                        appended += batch.count
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                _ = try log.readings.append(batch)
                appended += batch.count
                labels += fleet.finish()
                return (log, labels, appended)
            }
            readingCount += appended
            let found: [AnomalyEpisode]
            do {
                found = try await episodes(log: log.log, configuration: configuration).episodes
            } catch {
                await Blocking.run { log.close() }
                throw error
            }
            await Blocking.run { log.close() }
            let prefix = "s\(seed)/"
            allEpisodes += found.map { episode in
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
