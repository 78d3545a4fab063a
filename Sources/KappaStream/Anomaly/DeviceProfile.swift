/// The device-level (multivariate) detector: how a device's metrics sit together, and when they stop doing so.
///
/// Per metric it keeps a short smoothing of the readings (a few intervals: noise averages out, a sustained
/// shift does not) and a long-run, robust picture of that smoothed level: its mean and mean absolute
/// deviation, learnt with clipped steps so outliers teach little. Each smoothed level becomes a z-score
/// against its own long-run picture. It also smooths each metric's standardised residual from its own
/// baseline (``RobustBaseline``: level, trend, so daily cycles and drift are already taken out), and keeps
/// the long-run covariance of those smoothed residuals across metrics.
///
/// The device's score at each instant (its readings of one event time) is the larger of
/// - the largest |z|: one metric's level held far from its long-run picture, for as long as it stays there
///   (where a per-reading baseline absorbs a shift within a few readings);
/// - `√(uᵀ R⁻¹ u / k)`, the Hotelling T² of the smoothed residuals `u` (each in its own long-run deviations)
///   under their correlation `R`, per metric: metrics whose surprises always came together now coming
///   apart (or one alone), which no metric's own range shows.
/// Both are on the scale of a z-score, measured against the device's own history; so one alarm level
/// (`deviceAlarm`) serves every device, and an alarm means "unlikely under what this device has done", in the
/// spirit of Numenta's anomaly likelihood. No alarm during the warm-up. While an episode is open, a metric
/// learns only while its own |z| is below `deviceRelease`, so a fault is never learnt as the new normal; the
/// episode closes after `deviceCloseInstants` instants in a row below `deviceRelease` (relative to the
/// device's own cadence, not a fixed time).
struct DeviceProfile {
    /// Metrics beyond this many per device are left out of the profile (their own detectors still run).
    static let maximumMetrics = 16
    /// Steps of the long-run picture are clipped to this many deviations.
    private static let clip = 4.0
    /// Share of identity mixed into the correlation before inverting it: a few hundred instants cannot
    /// pin down a near-singular correlation, and the regularised one never makes T² explode.
    private static let ridge = 0.02
    /// Instants between re-inversions of the correlation (it moves slowly).
    private static let inversionInterval: Int64 = 16

    /// All the profile's numbers, in one allocation sized exactly when a metric is added: a profile is kept for
    /// each of a million devices' worth of series, and separate arrays each cost a header and an allocation.
    /// In order:
    /// - per metric slot, six numbers in a row: the smoothed level, its long-run mean and mean absolute deviation,
    ///   its z-score, the smoothed residual, and its reading count (an Int64's bits);
    /// - the long-run second moments of the clipped z-scores: a symmetric k × k matrix (each update adds the same
    ///   product to both halves, bit for bit), so only its upper triangle is kept, row by row (``moment(_:_:)``);
    /// - the inverse of their correlation, symmetric too, so also kept as its upper triangle: elimination leaves
    ///   the two halves apart by rounding only, and the upper half as computed is used for both. It only weighs
    ///   the residuals in the device's score, where a relative error of 10⁻⁷ changes nothing, so it is kept as
    ///   Float32, two to a slot (as their bits: those slots are never read as Doubles).
    private var numbers: [Double] = []

    private static let fields = 6
    private static func triangleCount(_ k: Int) -> Int { k * (k + 1) / 2 }
    private static func count(_ k: Int) -> Int { k * fields + triangleCount(k) + (triangleCount(k) + 1) / 2 }
    private var momentsStart: Int { metricCount &* Self.fields }
    private var inverseStart: Int { momentsStart &+ Self.triangleCount(metricCount) }

    /// Where (row, column) of a k × k symmetric matrix is in its upper triangle.
    private static func upperPosition(_ row: Int, _ column: Int, _ k: Int) -> Int {
        let (top, right) = row <= column ? (row, column) : (column, row)
        return top * k - top * (top - 1) / 2 + (right - top)
    }

    func moment(_ row: Int, _ column: Int) -> Double { numbers[momentsStart &+ Self.upperPosition(row, column, metricCount)] }
    private mutating func setMoment(_ row: Int, _ column: Int, _ value: Double) {
        numbers[momentsStart &+ Self.upperPosition(row, column, metricCount)] = value
    }
    func inverse(_ row: Int, _ column: Int) -> Double {
        let position = Self.upperPosition(row, column, metricCount)
        let pair = numbers[inverseStart &+ position &>> 1].bitPattern
        return Double(Float(bitPattern: UInt32(truncatingIfNeeded: pair &>> UInt64((position & 1) &* 32))))
    }

    /// Stores `value` (rounded to Float32) as the inverse's element at triangle `position` of `numbers`' slots from `start`.
    private static func setInverse(_ numbers: inout [Double], start: Int, position: Int, _ value: Double) {
        let shift = UInt64((position & 1) * 32)
        let pair = numbers[start + position >> 1].bitPattern
        numbers[start + position >> 1] = Double(bitPattern: pair & ~(0xFFFF_FFFF << shift) | UInt64(Float(value).bitPattern) << shift)
    }

    private func smoothed(_ slot: Int) -> Double { numbers[slot &* Self.fields] }
    private func mean(_ slot: Int) -> Double { numbers[slot &* Self.fields &+ 1] }
    private func deviation(_ slot: Int) -> Double { numbers[slot &* Self.fields &+ 2] }
    func z(_ slot: Int) -> Double { numbers[slot &* Self.fields &+ 3] }
    private func residual(_ slot: Int) -> Double { numbers[slot &* Self.fields &+ 4] }
    func observed(_ slot: Int) -> Int64 { Int64(bitPattern: numbers[slot &* Self.fields &+ 5].bitPattern) }
    private mutating func setSmoothed(_ slot: Int, _ value: Double) { numbers[slot &* Self.fields] = value }
    private mutating func setMean(_ slot: Int, _ value: Double) { numbers[slot &* Self.fields &+ 1] = value }
    private mutating func setDeviation(_ slot: Int, _ value: Double) { numbers[slot &* Self.fields &+ 2] = value }
    private mutating func setZ(_ slot: Int, _ value: Double) { numbers[slot &* Self.fields &+ 3] = value }
    private mutating func setResidual(_ slot: Int, _ value: Double) { numbers[slot &* Self.fields &+ 4] = value }
    private mutating func setObserved(_ slot: Int, _ count: Int64) {
        numbers[slot &* Self.fields &+ 5] = Double(bitPattern: UInt64(bitPattern: count))
    }
    var instants: Int64 = 0
    /// Event time of the instant being gathered.
    var instantTime: Int64 = .min
    /// The device-level episode, while one is open (rare: out of line, see ``Boxed``).
    var episode: OpenEpisode? {
        get { episodeBox?.value }
        set { episodeBox = newValue.map(Boxed.init) }
    }
    private var episodeBox: Boxed<OpenEpisode>?
    /// Event time at which the current run of scores at or above the release level began (the onset).
    var elevatedSince: Int64 = .min
    var calmInstants: Int64 = 0
    // (The one-byte fields last, together, so the device's own flag can follow them in the same word.)
    /// Whether the instant at `instantTime` has been scored.
    var instantJudged = true
    /// Metric slots in use (at most ``maximumMetrics``).
    private var metrics: UInt8 = 0

    var metricCount: Int { Int(metrics) }

    /// A slot for a new metric of the device, or nil when the profile is full.
    mutating func addMetric() -> Int8? {
        let k = metricCount
        guard k < Self.maximumMetrics else { return nil }
        // (`[Double](repeating:count:)` allocates exactly `count`.)
        var grown = [Double](repeating: 0, count: Self.count(k + 1))
        for index in 0..<(k * Self.fields) { grown[index] = numbers[index] }
        let momentsStart = (k + 1) * Self.fields
        for row in 0..<k {
            for column in row..<k { grown[momentsStart + Self.upperPosition(row, column, k + 1)] = moment(row, column) }
        }
        grown[momentsStart + Self.upperPosition(k, k, k + 1)] = 1
        let inverseStart = momentsStart + Self.triangleCount(k + 1)
        for index in 0...k { Self.setInverse(&grown, start: inverseStart, position: Self.upperPosition(index, index, k + 1), 1) }
        numbers = grown
        metrics = UInt8(k + 1)
        return Int8(k)
    }

    /// Takes in one reading of the metric in `slot`.
    mutating func observe(slot: Int, value: Double, residualZ: Double, _ settings: DetectorSettings) {
        let count = observed(slot) + 1
        setObserved(slot, count)
        let clippedResidual = residualZ.isFinite ? min(max(residualZ, -Self.clip), Self.clip) : 0
        setResidual(slot, residual(slot) + max(settings.deviceSmoothing, 1 / Double(count)) * (clippedResidual - residual(slot)))
        if count == 1 {
            setSmoothed(slot, value)
            setMean(slot, value)
            return
        }
        setSmoothed(slot, smoothed(slot) + max(settings.deviceSmoothing, 1 / Double(count)) * (value - smoothed(slot)))
        let scale = 1.2533 * deviation(slot) + 1e-9 * max(1, abs(mean(slot)))
        let score = (smoothed(slot) - mean(slot)) / scale
        setZ(slot, score)
        let warming = count <= Int64(settings.deviceWarmupInstants)
        guard warming || episode == nil || abs(score) < settings.deviceRelease else { return }
        let gain = max(settings.deviceLearning, 1 / Double(count))
        var step = smoothed(slot) - mean(slot)
        if !warming { step = min(max(step, -Self.clip * scale), Self.clip * scale) }
        setMean(slot, mean(slot) + gain * step)
        setDeviation(slot, deviation(slot) + gain * (abs(step) - deviation(slot)))
    }

    /// The instant's score (see the type's documentation); learns the correlation outside episodes.
    mutating func score(_ settings: DetectorSettings) -> Double {
        instants += 1
        let k = metricCount
        var largest = 0.0
        for slot in 0..<k { largest = max(largest, abs(z(slot))) }
        // One metric alone is the univariate detectors' to judge: the profile would only repeat their alarms.
        guard k >= 2 else { return 0 }
        var quadratic = 0.0
        for row in 0..<k {
            var sum = 0.0
            for column in 0..<k { sum += inverse(row, column) * standardisedResidual(column) }
            quadratic += standardisedResidual(row) * sum
        }
        let joint = (max(0, quadratic) / Double(k)).squareRoot()
        if episode == nil {
            let gain = max(settings.deviceLearning, 1 / Double(instants))
            for row in 0..<k {
                for column in row..<k {
                    let moment = moment(row, column)
                    setMoment(row, column, moment + gain * (residual(row) * residual(column) - moment))
                }
            }
            if instants % Self.inversionInterval == 0 || instants <= Int64(settings.deviceWarmupInstants) { invertCorrelation() }
        }
        return instants <= Int64(settings.deviceWarmupInstants) ? 0 : max(largest, joint)
    }

    /// Takes the metrics' current smoothed levels as their long-run means (a confirmed level change).
    mutating func absorbCurrentLevels(_ settings: DetectorSettings) {
        for slot in 0..<metricCount where abs(z(slot)) >= settings.deviceRelease {
            setMean(slot, smoothed(slot))
            setZ(slot, 0)
        }
    }

    private func standardisedResidual(_ slot: Int) -> Double {
        residual(slot) / max(moment(slot, slot), 1e-6).squareRoot()
    }

    /// `inverse ← ((1 − ridge) R + ridge I)⁻¹`, R the correlation of `moments` (Gauss–Jordan; the matrix is
    /// symmetric positive definite, so no pivoting is needed).
    private mutating func invertCorrelation() {
        let k = metricCount
        var matrix = [Double](repeating: 0, count: k * k)
        for row in 0..<k {
            for column in 0..<k {
                let scale = (max(moment(row, row), 1e-12) * max(moment(column, column), 1e-12)).squareRoot()
                let correlation = row == column ? 1 : moment(row, column) / scale
                matrix[row * k + column] = (1 - Self.ridge) * correlation + (row == column ? Self.ridge : 0)
            }
        }
        var result = Self.identity(k)
        for pivot in 0..<k {
            let divisor = matrix[pivot * k + pivot]
            guard divisor > 1e-12 else { return }
            for column in 0..<k {
                matrix[pivot * k + column] /= divisor
                result[pivot * k + column] /= divisor
            }
            for row in 0..<k where row != pivot {
                let factor = matrix[row * k + pivot]
                guard factor != 0 else { continue }
                for column in 0..<k {
                    matrix[row * k + column] -= factor * matrix[pivot * k + column]
                    result[row * k + column] -= factor * result[pivot * k + column]
                }
            }
        }
        let start = inverseStart
        for row in 0..<k {
            for column in row..<k { Self.setInverse(&numbers, start: start, position: Self.upperPosition(row, column, k), result[row * k + column]) }
        }
    }

    private static func identity(_ k: Int) -> [Double] {
        var matrix = [Double](repeating: 0, count: k * k)
        for index in 0..<k { matrix[index * k + index] = 1 }
        return matrix
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(UInt8(metricCount))
        for slot in 0..<metricCount {
            writer.write(smoothed(slot))
            writer.write(mean(slot))
            writer.write(deviation(slot))
            writer.write(z(slot))
            writer.write(residual(slot))
            writer.write(observed(slot))
        }
        for row in 0..<metricCount { for column in 0..<metricCount { writer.write(moment(row, column)) } }
        for row in 0..<metricCount { for column in 0..<metricCount { writer.write(inverse(row, column)) } }
        writer.write(instants)
        writer.write(instantTime)
        writer.write(instantJudged)
        writer.write(elevatedSince)
        writer.write(calmInstants)
        writer.write(episode != nil)
        episode?.encode(into: &writer)
    }

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        let k = Int(try reader.read(UInt8.self))
        guard k <= Self.maximumMetrics else { throw reader.corrupt() }
        metrics = UInt8(k)
        numbers = [Double](repeating: 0, count: Self.count(k))
        for slot in 0..<k {
            for field in 0..<(Self.fields - 1) { numbers[slot * Self.fields + field] = try reader.read() }
            setObserved(slot, try reader.read())
        }
        var moments: [Double] = []
        moments.reserveCapacity(k * k)
        for _ in 0..<(k * k) { moments.append(try reader.read()) }
        // Written from a symmetric matrix: anything else was not written by a profile.
        for row in 0..<k {
            for column in row..<k {
                guard moments[row * k + column].bitPattern == moments[column * k + row].bitPattern else { throw reader.corrupt() }
                setMoment(row, column, moments[row * k + column])
            }
        }
        // (A snapshot from before the inverse was kept as a Float32 triangle may have halves apart by rounding and
        // more digits: the upper one is taken, rounded, as elimination now does. One written since restores exactly.)
        let start = inverseStart
        for row in 0..<k {
            for column in 0..<k {
                let value: Double = try reader.read()
                if row <= column { Self.setInverse(&numbers, start: start, position: Self.upperPosition(row, column, k), value) }
            }
        }
        instants = try reader.read()
        instantTime = try reader.read()
        instantJudged = try reader.read()
        elevatedSince = try reader.read()
        calmInstants = try reader.read()
        episode = try reader.read(Bool.self) ? try OpenEpisode(from: &reader) : nil
    }
}
