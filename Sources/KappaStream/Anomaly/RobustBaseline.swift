/// What a series is expected to read next: Holt's level and trend, with a robust noise scale.
///
/// The trend is per second of event time, so daily cycles and slow drift are followed rather than flagged.
/// Residuals are clipped before they move anything, so a spike barely moves the baseline; a real level
/// shift is taken in at once by the change-point detector (`relevel(to:)`).
struct RobustBaseline {
    var level = 0.0
    var trendPerSecond = 0.0
    /// Smoothed absolute residual; for Gaussian noise σ ≈ 1.2533 × this.
    var meanAbsoluteResidual = 0.0
    /// The smallest non-negligible step the series has made: the resolution of a quantised signal.
    /// (How many readings it has taken in is its series' reading count, ``CadenceTracker/readings``: one per
    /// reading, whether it updates or relevels, so it is passed in rather than kept twice.)
    var quantum = Double.infinity

    private static let gaussianFromMeanAbsolute = 1.2533

    func forecast(afterSeconds seconds: Double) -> Double { level + trendPerSecond * seconds }

    /// The noise scale residuals are measured in, never below the series' own resolution or a tiny relative floor.
    func scale(_ settings: DetectorSettings) -> Double {
        let resolution = quantum.isFinite ? quantum : 0
        return max(Self.gaussianFromMeanAbsolute * meanAbsoluteResidual, resolution, settings.minimumScale, 1e-9 * max(1, abs(level)))
    }

    mutating func start(at value: Double) {
        level = value
        trendPerSecond = 0
        meanAbsoluteResidual = 0
    }

    mutating func noteStep(_ step: Double, at value: Double) {
        let size = abs(step)
        if size > 1e-9 * max(1, abs(value)), size < quantum { quantum = size }
    }

    /// Takes in one residual `residual = value − forecast`, after `observed` readings. `intervalSeconds` is the
    /// series' usual spacing, which turns a level correction into a per-second trend correction.
    mutating func update(
        forecast: Double, residual: Double, scale: Double, intervalSeconds: Double, observed: Int64, learnTrend: Bool, learnScale: Bool,
        _ settings: DetectorSettings
    ) {
        let clipped = observed < 5 ? residual : min(max(residual, -settings.residualClip * scale), settings.residualClip * scale)
        let levelGain = max(settings.levelSmoothing, 1 / Double(observed + 1))
        level = forecast + levelGain * clipped
        if learnTrend, intervalSeconds > 0 {
            trendPerSecond += levelGain * settings.trendSmoothing * clipped / intervalSeconds
        }
        if learnScale {
            let scaleGain = max(settings.scaleSmoothing, 1 / Double(observed))
            meanAbsoluteResidual += scaleGain * (abs(clipped) - meanAbsoluteResidual)
        }
    }

    /// The change-point detector's verdict: the series now lives at `value`.
    mutating func relevel(to value: Double) {
        level = value
    }

    /// (`observed`: the series' reading count, which the snapshot keeps here.)
    func encode(into writer: inout SnapshotWriter, observed: Int64) {
        writer.write(level)
        writer.write(trendPerSecond)
        writer.write(meanAbsoluteResidual)
        writer.write(quantum)
        writer.write(observed)
    }

    init() {}

    /// Also returns the reading count stored with it, which the series checks against its own.
    init(from reader: inout SnapshotReader, observed: inout Int64) throws(AnomalySnapshotError) {
        level = try reader.read()
        trendPerSecond = try reader.read()
        meanAbsoluteResidual = try reader.read()
        quantum = try reader.read()
        observed = try reader.read()
    }
}
