import KappaCore

/// When a detected episode counts as finding a label: the standard episode-level (range overlap) rule.
///
/// Same device; same metric, or either side is `"*"` (a whole device); and the episode's time range
/// `[startTime, endTime]` overlaps the label's `[start, end]` once both ends are widened by `tolerance`
/// (a detector may place an onset a reading late, and a label's last reading may be one interval before
/// the signal is visibly back). Any anomaly kind on the series counts for precision: a spike episode at
/// the first reading of a level shift is a true alarm about a real anomaly. Recall per detector asks
/// only for the kinds that detector is expected to catch (`AnomalyLabel.Kind.expectedDetectors`).
public struct EpisodeMatchRule: Hashable, Sendable {
    public var tolerance: Int64
    /// The end assumed for episodes still open.
    public var openEnd: Timestamp?

    public init(tolerance: Int64, openEnd: Timestamp?) {
        self.tolerance = tolerance
        self.openEnd = openEnd
    }

    public func matches(_ episode: AnomalyEpisode, _ label: AnomalyLabel) -> Bool {
        guard episode.device == label.device,
              episode.metric == label.metric || label.metric == AnomalyEpisode.wholeDevice || episode.metric == AnomalyEpisode.wholeDevice
        else { return false }
        let end = (episode.endTime ?? openEnd ?? episode.startTime).nanosecondsSinceEpoch
        return episode.startTime.nanosecondsSinceEpoch <= label.end.nanosecondsSinceEpoch &+ tolerance
            && end &+ tolerance >= label.start.nanosecondsSinceEpoch
    }
}
