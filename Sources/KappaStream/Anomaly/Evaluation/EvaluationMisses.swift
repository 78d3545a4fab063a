import KappaCore

/// What an evaluation got wrong, one line each, for finding out why: episodes that match no label
/// (false positives) and anomaly labels that no episode of an expected detector found (misses).
/// Each line names the nearest label on the same device, since most false alarms sit beside one.
public struct EvaluationMisses: Sendable {
    public var falseEpisodes: [AnomalyEpisode] = []
    public var missedLabels: [AnomalyLabel] = []
    private var labelsByDevice: [String: [AnomalyLabel]] = [:]
    private var episodesByDevice: [String: [AnomalyEpisode]] = [:]

    public init(episodes: [AnomalyEpisode], labels: [AnomalyLabel], tolerance: Int64 = 0, openEnd: Timestamp? = nil) {
        let rule = EpisodeMatchRule(tolerance: tolerance, openEnd: openEnd)
        labelsByDevice = Dictionary(grouping: labels, by: \.device)
        episodesByDevice = Dictionary(grouping: episodes, by: \.device)
        for episode in episodes where !(labelsByDevice[episode.device] ?? []).contains(where: { rule.matches(episode, $0) }) {
            falseEpisodes.append(episode)
        }
        for label in labels where label.kind.isAnomaly {
            let expected = label.kind.expectedDetectors
            let found = (episodesByDevice[label.device] ?? []).contains { expected.contains($0.detector) && rule.matches($0, label) }
            if !found { missedLabels.append(label) }
        }
    }

    /// `FALSE detector device/metric start..end (detected at) peak | nearest: kind metric start..end`
    /// then `MISSED kind device/metric start..end | nearest episode: …`, times in seconds from `origin`.
    public func report(origin: Timestamp) -> String {
        func seconds(_ time: Timestamp?) -> String {
            guard let time else { return "open" }
            return "\((time.nanosecondsSinceEpoch - origin.nanosecondsSinceEpoch) / 1_000_000_000)"
        }
        func nearest(_ device: String, _ start: Timestamp) -> String {
            let candidates = labelsByDevice[device] ?? []
            guard let label = candidates.min(by: { abs($0.start.nanosecondsSinceEpoch - start.nanosecondsSinceEpoch) < abs($1.start.nanosecondsSinceEpoch - start.nanosecondsSinceEpoch) })
            else { return "none" }
            return "\(label.kind) \(label.metric) \(seconds(label.start))..\(seconds(label.end))"
        }
        var lines: [String] = []
        for episode in falseEpisodes {
            lines.append(
                "FALSE \(episode.detector.name) \(episode.device)/\(episode.metric) \(seconds(episode.startTime))..\(seconds(episode.endTime))"
                    + " (detected \(seconds(episode.detectedAt))) peak \((episode.peakScore * 10).rounded() / 10)"
                    + " | nearest: \(nearest(episode.device, episode.startTime))"
            )
        }
        for label in missedLabels {
            let closest = (episodesByDevice[label.device] ?? []).min {
                abs($0.startTime.nanosecondsSinceEpoch - label.start.nanosecondsSinceEpoch) < abs($1.startTime.nanosecondsSinceEpoch - label.start.nanosecondsSinceEpoch)
            }
            let episode = closest.map { "\($0.detector.name) \($0.metric) \(seconds($0.startTime))..\(seconds($0.endTime))" } ?? "none"
            lines.append("MISSED \(label.kind) \(label.device)/\(label.metric) \(seconds(label.start))..\(seconds(label.end)) | nearest episode: \(episode)")
        }
        return lines.joined(separator: "\n")
    }
}
