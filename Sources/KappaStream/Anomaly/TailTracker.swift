/// An online estimate of a high quantile of a series' |z| (stochastic quantile approximation: up by
/// `step · (1 − p)` on an exceedance, down by `step · p` otherwise, which settles where a share `p` exceeds),
/// never below the Gaussian value, so a series is never judged more sensitively than Gaussian noise would be.
struct TailTracker {
    /// The 99.9th percentile of |z| for Gaussian noise.
    static let gaussian = 3.29
    private static let share = 0.001

    var quantile = TailTracker.gaussian

    /// How much heavier than Gaussian the series' tail is (≥ 1).
    var factor: Double { quantile / Self.gaussian }

    mutating func observe(_ magnitude: Double, _ settings: DetectorSettings) {
        let step = settings.tailStep
        guard step > 0 else { return }
        if magnitude > quantile {
            quantile += step * (1 - Self.share)
        } else {
            quantile = max(Self.gaussian, quantile - step * Self.share)
        }
    }
}
