/// How the detectors treat one metric. Defaults are tuned for sensor signals with daily cycles, slow
/// drift and Gaussian-ish noise, sampled every 1 to 60 seconds.
public struct DetectorSettings: Hashable, Sendable {
    /// Which detectors run. Threshold and rate of change also need their bounds set to do anything.
    public var enabled: AnomalyDetectorSet = .all
    /// Readings of a new series before spike, change point and flatline may alarm.
    public var warmupReadings: Int = 30

    // Baseline: Holt's level and trend (per second), so daily cycles and slow drift are tracked, not flagged.
    /// Share of each residual taken into the level.
    public var levelSmoothing: Double = 0.1
    /// Share of each level correction taken into the trend.
    public var trendSmoothing: Double = 0.05
    /// Share of each absolute residual taken into the noise scale.
    public var scaleSmoothing: Double = 0.02
    /// Residuals are clipped to this many scales before they move the baseline, so a spike barely moves it.
    public var residualClip: Double = 4
    /// A floor under the noise scale, in the metric's units (a constant signal has none of its own).
    public var minimumScale: Double = 0

    /// How fast a series' own 99.9th percentile of |z| is learnt (z units per exceedance); 0 judges every
    /// series as if its noise were Gaussian.
    public var tailStep: Double = 0.5

    // Spike and dip.
    /// |z| at or above which a reading is a spike or dip.
    public var spikeZ: Double = 6

    // Change point: two-sided CUSUM of the standardised residual.
    /// Slack per reading, in scales: shifts smaller than about twice this go unflagged.
    public var changeSlack: Double = 1.5
    /// The CUSUM sum (in scales) that declares a change.
    public var changeThreshold: Double = 18
    /// Each residual's contribution is capped, so a short spike alone cannot declare a change.
    public var changeCap: Double = 5

    // Changes of operating state. Device-wide: read from the configuration's defaults.
    /// When at least this many metrics of one device jump (spike-sized residuals) at the same event time, the
    /// device changed its operating state (a machine starting its shift, a load switched on) rather than one
    /// sensor failing: those series take their new levels without an alarm. 0 turns this off (and with it the
    /// wait for a device's other readings of the same instant before spikes and change points are reported).
    public var stateChangeMetrics: Int = 2
    /// After a change of operating state, change points on the device raise no alarm for this long (nanoseconds)
    /// while quantities that lag it (a bearing warming up) settle; the baselines still follow them. Spikes,
    /// which a lagging quantity does not make, are still reported.
    public var stateChangeSettleNanoseconds: Int64 = 1_200_000_000_000

    // Device-level (multivariate) detection, ``DeviceProfile``. Device-wide: read from the configuration's defaults.
    /// Share of each reading taken into a metric's short smoothing (about 2 / this readings are averaged).
    public var deviceSmoothing: Double = 0.1
    /// Share of each smoothed level taken into the long-run picture once warmed up (its memory, in readings).
    public var deviceLearning: Double = 0.002
    /// Instants (a device's readings of one event time) learnt before the device detector may alarm.
    public var deviceWarmupInstants: Int = 100
    /// The device score (in long-run deviations) that opens a device-level episode.
    public var deviceAlarm: Double = 8
    /// The score below which an instant counts as normal for closing, and a metric may learn during an episode.
    public var deviceRelease: Double = 3
    /// Normal instants in a row that close a device-level episode.
    public var deviceCloseInstants: Int = 10
    /// A device-level departure held this many of the device's intervals after its alarm is absorbed as the
    /// device's new normal (a level change confirmed), and its episode closes.
    public var deviceAbsorbInstants: Int = 1_800

    // Thresholds: off unless set.
    public var minimum: Double? = nil
    public var maximum: Double? = nil

    // Rate of change: off unless set. Units per second of event time.
    public var maximumRatePerSecond: Double? = nil

    // Flatline.
    /// A run of identical values needs at least this many readings…
    public var flatlineMinimumReadings: Int = 6
    /// …and at least this long in event time (nanoseconds)…
    public var flatlineMinimumNanoseconds: Int64 = 10_000_000_000
    /// …and must be less likely than this to happen by chance, judged by how often the series repeated a
    /// value before (so quantised and naturally constant signals do not alarm).
    public var flatlineChance: Double = 1e-12

    // Gap.
    /// Silent for more than this many learned intervals.
    public var gapFactor: Double = 5
    /// And for at least this long (nanoseconds): a one-second sensor quiet for five seconds is seldom news, and
    /// at the start of a burst devices run tens of seconds ahead of one another before that spread is learnt.
    public var gapMinimumNanoseconds: Int64 = 60_000_000_000
    /// Intervals to learn before a series (or device) can be declared silent.
    public var gapWarmupIntervals: Int = 8

    // Episodes and severity.
    /// An episode closes after this many normal readings in a row (a stretch relative to the series' own
    /// cadence)…
    public var closeAfterNormalReadings: Int = 5
    /// …that also reach at least this long (nanoseconds) past the last anomalous one. 0 by default: a fixed
    /// time is many readings of a fast series and few of a slow one; the quiet period (`quietReadings`) is
    /// what keeps a burst of spikes from raising one alarm each. Its end time is the last anomalous reading's.
    public var closeAfterNanoseconds: Int64 = 0
    /// After an episode of a series closes, new alarms of the same detector (threshold excepted) on it are dropped
    /// for this many of its readings: what follows a fault (its echoes, the settling) is not news.
    public var quietReadings: Int = 300
    /// A peak score at or above this multiple of the detector's alarm level is critical.
    public var criticalFactor: Double = 2
    /// `episodeUpdated` is sent when the peak grows by at least this factor since the last report.
    public var updateGrowth: Double = 1.1

    public init() {}
}
