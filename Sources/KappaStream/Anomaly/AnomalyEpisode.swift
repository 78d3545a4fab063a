import KappaCore

/// Consecutive anomalous readings of one detector on one series, folded into one row of the `anomalies` view.
public struct AnomalyEpisode: Hashable, Sendable {
    public var device: String
    /// The metric, or `"*"` for a whole device gone silent.
    public var metric: String
    public var detector: AnomalyDetector
    /// When the anomaly began in event time: the first anomalous reading, the start of a stuck run,
    /// or the last reading before a silence.
    public var startTime: Timestamp
    /// The event time at which the detector declared it (equal to `startTime` for spikes; later for
    /// flatlines and gaps, which need time to be sure). Detection delay is measured from here.
    public var detectedAt: Timestamp
    /// The last anomalous moment, set when the episode closes; nil while it is open.
    public var endTime: Timestamp?
    /// The largest score seen; its scale is the detector's (z for spikes, CUSUM sum for change points,
    /// ratio to the bound for rate, flatline and gap).
    public var peakScore: Double
    /// The reading's value at the peak (the last value before a series gap; nil for a device gap).
    public var value: Double?
    /// The range the detector expected at the peak, where it has one.
    public var expectedLow: Double?
    public var expectedHigh: Double?
    public var severity: AnomalySeverity

    public init(
        device: String, metric: String, detector: AnomalyDetector, startTime: Timestamp, detectedAt: Timestamp,
        endTime: Timestamp?, peakScore: Double, value: Double?, expectedLow: Double?, expectedHigh: Double?,
        severity: AnomalySeverity
    ) {
        self.device = device
        self.metric = metric
        self.detector = detector
        self.startTime = startTime
        self.detectedAt = detectedAt
        self.endTime = endTime
        self.peakScore = peakScore
        self.value = value
        self.expectedLow = expectedLow
        self.expectedHigh = expectedHigh
        self.severity = severity
    }

    /// The metric of device-level episodes and of labels about a whole device.
    public static let wholeDevice = "*"
}

/// What the engine tells the runtime: upsert the row, and alert on `opened`.
public enum AnomalyEvent: Hashable, Sendable {
    case episodeOpened(AnomalyEpisode)
    /// The open episode's peak grew (by at least `EpisodeSettings.updateGrowth`).
    case episodeUpdated(AnomalyEpisode)
    case episodeClosed(AnomalyEpisode)

    public var episode: AnomalyEpisode {
        switch self {
        case .episodeOpened(let episode), .episodeUpdated(let episode), .episodeClosed(let episode): episode
        }
    }
}
