import KappaCore

/// Scores episodes against labels at the episode level, per detector and overall.
///
/// An episode matches a label by `EpisodeMatchRule` (same series, overlapping time ranges within `tolerance`). Then:
/// - precision: episodes matching some anomaly label ÷ episodes counted, where an episode matching only
///   chaos labels (duplicates, skew, …) is not counted at all;
/// - recall: anomaly labels matched ÷ anomaly labels (per detector: labels of the kinds that detector is
///   expected to catch, matched by that detector's episodes);
/// - delay: for each matched label, its earliest matching episode's `detectedAt` − the label's start
///   (negative values, possible within the tolerance, count as 0); the median over labels.
public struct EpisodeEvaluation: Hashable, Sendable {
    public struct Scores: Hashable, Sendable {
        /// nil for the overall row.
        public var detector: AnomalyDetector?
        public var episodes: Int
        public var truePositives: Int
        public var falsePositives: Int
        public var labels: Int
        public var labelsFound: Int
        public var medianDelaySeconds: Double?

        public var precision: Double { truePositives + falsePositives == 0 ? 1 : Double(truePositives) / Double(truePositives + falsePositives) }
        public var recall: Double { labels == 0 ? 1 : Double(labelsFound) / Double(labels) }
        public var f1: Double {
            let p = precision, r = recall
            return p + r == 0 ? 0 : 2 * p * r / (p + r)
        }
    }

    /// One row per detector (in detector order), then the overall row.
    public var rows: [Scores]
    public var overall: Scores { rows.last! }

    public func scores(for detector: AnomalyDetector) -> Scores? { rows.first { $0.detector == detector } }

    /// - Parameters:
    ///   - openEnd: the end assumed for episodes still open (for example the stream's last event time).
    public init(episodes: [AnomalyEpisode], labels: [AnomalyLabel], tolerance: Int64 = 0, openEnd: Timestamp? = nil) {
        let anomalies = labels.filter(\.kind.isAnomaly)
        let chaos = labels.filter { !$0.kind.isAnomaly }
        let rule = EpisodeMatchRule(tolerance: tolerance, openEnd: openEnd)
        let matches = rule.matches
        func score(_ detector: AnomalyDetector?) -> Scores {
            let mine = episodes.filter { detector == nil || $0.detector == detector }
            var truePositives = 0, falsePositives = 0
            for episode in mine {
                if anomalies.contains(where: { matches(episode, $0) }) {
                    truePositives += 1
                } else if !chaos.contains(where: { matches(episode, $0) }) {
                    falsePositives += 1
                }
            }
            let expected = detector.map { d in anomalies.filter { $0.kind.expectedDetectors.contains(d) } } ?? anomalies
            var delays: [Double] = []
            for label in expected {
                let found = mine.filter { matches($0, label) }
                guard let first = found.map(\.detectedAt).min() else { continue }
                delays.append(max(0, Double(first.nanosecondsSinceEpoch - label.start.nanosecondsSinceEpoch) / 1e9))
            }
            delays.sort()
            let median: Double? = delays.isEmpty ? nil
                : delays.count % 2 == 1 ? delays[delays.count / 2] : (delays[delays.count / 2 - 1] + delays[delays.count / 2]) / 2
            return Scores(
                detector: detector, episodes: mine.count, truePositives: truePositives, falsePositives: falsePositives,
                labels: expected.count, labelsFound: delays.count, medianDelaySeconds: median
            )
        }
        rows = AnomalyDetector.allCases.map(score) + [score(nil)]
    }

    /// The table `kappa eval anomalies` prints.
    public var table: String {
        func fixed(_ value: Double, _ digits: Int) -> String {
            let scale = Double([1, 10, 100, 1000][digits])
            let rounded = (value * scale).rounded() / scale
            var text = "\(rounded)"
            let decimals = text.split(separator: ".").last.map(\.count) ?? 0
            if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
            return text
        }
        func pad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        var lines = ["detector        episodes   tp   fp  labels found  precision  recall     f1  median delay (s)"]
        for row in rows {
            let name = row.detector?.name ?? "overall"
            lines.append(
                name + String(repeating: " ", count: max(0, 14 - name.count))
                    + pad("\(row.episodes)", 10) + pad("\(row.truePositives)", 5) + pad("\(row.falsePositives)", 5)
                    + pad("\(row.labels)", 8) + pad("\(row.labelsFound)", 6)
                    + pad(fixed(row.precision, 3), 11) + pad(fixed(row.recall, 3), 8) + pad(fixed(row.f1, 3), 7)
                    + pad(row.medianDelaySeconds.map { fixed($0, 1) } ?? "-", 18)
            )
        }
        return lines.joined(separator: "\n")
    }
}
