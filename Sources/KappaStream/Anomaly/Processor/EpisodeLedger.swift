import KappaCore

/// Episodes by their row key, each as of its latest event: what the `anomalies_v1` rows hold.
///
/// The key is the table's primary key with times as PostgreSQL keeps them (microseconds), so one entry is
/// one row however many events the episode had.
struct EpisodeLedger {
    private struct Key: Hashable {
        var device: String
        var metric: String
        var detector: AnomalyDetector
        var startMicroseconds: Int64
    }

    private var latest: [Key: AnomalyEpisode] = [:]
    /// Episodes opened, in the order they opened.
    private(set) var opened: [AnomalyEpisode] = []

    var isEmpty: Bool { latest.isEmpty }
    var episodes: some Collection<AnomalyEpisode> { latest.values }

    mutating func record(_ event: AnomalyEvent) {
        let episode = event.episode
        let key = Key(device: episode.device, metric: episode.metric, detector: episode.detector, startMicroseconds: episode.startTime.microsecondsSinceEpoch)
        latest[key] = episode
        if case .episodeOpened = event { opened.append(episode) }
    }

    mutating func removeAll() {
        latest.removeAll(keepingCapacity: true)
        opened.removeAll(keepingCapacity: true)
    }
}
