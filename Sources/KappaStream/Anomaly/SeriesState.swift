/// Everything the detectors keep about one (device, metric) series: a few dozen numbers.
///
/// A million of these are kept at once, so nothing is kept twice: the baseline's, the flatline run's and the
/// cadence's interval counts follow from the cadence's reading count, and the small fields share the last eight bytes.
struct SeriesState {
    var device: Int32
    /// Index into the engine's resolved settings; derived from the metric, never stored.
    var settingsIndex: Int32
    var baseline = RobustBaseline()
    var changePoint = ChangePointDetector()
    var flatline = FlatlineDetector()
    var cadence = SeriesCadence()
    var lastValue = 0.0
    /// The series' own 99.9th percentile of |z|, tracked online (``TailTracker``).
    var tail = TailTracker()
    /// Detectors with an open episode on this series, so normal readings skip the episode table.
    var openEpisodes: UInt8 = 0
    /// Whether the deadline queue holds an entry for this series.
    var deadlineQueued = false
    /// The series' place in its device's profile; `unassigned` until its first reading, `outside` when full.
    var profileSlot = SeriesState.unassigned
    /// Readings left in the quiet period after an episode of this series closed (``DetectorSettings/quietReadings``),
    /// and the detectors it silences (those whose episodes closed).
    var quietDetectors: UInt8 = 0
    var quietReadings: Int32 = 0
    static let unassigned: Int8 = -1
    static let outside: Int8 = -2

    init(device: Int32, settingsIndex: Int32) {
        self.device = device
        self.settingsIndex = settingsIndex
    }

    /// The detections of one reading, one slot per reading-driven detector other than threshold.
    struct Verdict {
        var spike: Detection?
        var changePoint: Detection?
        var rateOfChange: Detection?
        var flatline: Detection?
        /// The reading's standardised residual from the baseline (after the tail adjustment).
        var z = 0.0
    }

    /// True when a reading is not after the latest one: a duplicate or a late arrival, which teaches the
    /// event-time-ordered detectors nothing (only thresholds judge it).
    func isStale(_ time: Int64) -> Bool { cadence.readings > 0 && time <= cadence.lastTime }

    /// Takes in a reading that is not stale.
    mutating func observe(time: Int64, value: Double, _ settings: DetectorSettings) -> Verdict {
        var verdict = Verdict()
        guard cadence.readings > 0 else {
            baseline.start(at: value)
            flatline.start(at: time)
            cadence.observe(time)
            lastValue = value
            return verdict
        }
        let elapsedSeconds = Double(time - cadence.lastTime) / 1e9
        let intervalSeconds = cadence.intervals > 0 ? cadence.intervalSeconds : elapsedSeconds
        // After a silence, extrapolate the trend no further than a few usual intervals.
        let forecast = baseline.forecast(afterSeconds: min(elapsedSeconds, 10 * intervalSeconds))
        let residual = value - forecast
        let scale = baseline.scale(settings)
        let rawZ = residual / scale
        let warmedUp = cadence.readings >= Int64(settings.warmupReadings)
        // Judged against the series' own tail: a heavy-tailed series' z-scores are shrunk until its 99.9th
        // percentile is where Gaussian noise would put it, so its everyday outliers raise no alarm.
        let z = rawZ / tail.factor
        // A shift under way is not the series' everyday tail: learning from it would hide the shift from the CUSUM.
        if warmedUp, changePoint.statistic < settings.changeThreshold / 4 { tail.observe(abs(rawZ), settings) }
        verdict.z = z
        let enabled = settings.enabled

        if warmedUp, enabled.contains(.spike), abs(z) >= settings.spikeZ {
            let band = settings.spikeZ * scale * tail.factor
            verdict.spike = Detection(start: time, score: abs(z), value: value, expectedLow: forecast - band, expectedHigh: forecast + band)
        }
        var releveled = false
        if warmedUp, enabled.contains(.changePoint), let change = changePoint.observe(z: z, at: time, settings) {
            let band = settings.spikeZ * scale * tail.factor
            verdict.changePoint = Detection(start: change.onset, score: change.statistic, value: value, expectedLow: forecast - band, expectedHigh: forecast + band)
            baseline.relevel(to: value)
            releveled = true
        }
        if enabled.contains(.rateOfChange), let bound = settings.maximumRatePerSecond {
            let ratio = abs(value - lastValue) / elapsedSeconds / bound
            if ratio >= 1 {
                let allowed = bound * elapsedSeconds
                verdict.rateOfChange = Detection(start: time, score: ratio, value: value, expectedLow: lastValue - allowed, expectedHigh: lastValue + allowed)
            }
        }
        let reading = cadence.readings + 1
        let stuck = flatline.observe(time: time, value: value, previous: lastValue, reading: reading, settings)
        if enabled.contains(.flatline) { verdict.flatline = stuck }

        baseline.noteStep(value - lastValue, at: value)
        if !releveled {
            // While a change is suspected, its residuals must not teach the baseline that they are noise or trend;
            // otherwise a fast drift would be learnt away before the CUSUM could declare it.
            let suspected = changePoint.statistic >= settings.changeThreshold / 4
            baseline.update(
                forecast: forecast, residual: residual, scale: scale, intervalSeconds: intervalSeconds, observed: cadence.readings,
                learnTrend: true, learnScale: !suspected && !flatline.isInRun(at: reading), settings
            )
        }
        cadence.observe(time)
        lastValue = value
        if quietReadings > 0 {
            quietReadings -= 1
            if quietReadings == 0 { quietDetectors = 0 }
        }
        return verdict
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(device)
        baseline.encode(into: &writer, observed: cadence.readings)
        changePoint.encode(into: &writer)
        flatline.encode(into: &writer, readings: cadence.readings)
        cadence.encode(into: &writer)
        writer.write(lastValue)
        writer.write(tail.quantile)
        writer.write(openEpisodes)
        writer.write(deadlineQueued)
        writer.write(profileSlot)
        writer.write(quietReadings)
        writer.write(quietDetectors)
    }

    init(from reader: inout SnapshotReader, settingsIndex: Int32) throws(AnomalySnapshotError) {
        device = try reader.read()
        self.settingsIndex = settingsIndex
        var observed: Int64 = 0, runLength: Int64 = 0
        baseline = try RobustBaseline(from: &reader, observed: &observed)
        changePoint = try ChangePointDetector(from: &reader)
        flatline = try FlatlineDetector(from: &reader, runLength: &runLength)
        cadence = try SeriesCadence(from: &reader)
        // The engine always writes these counts as its reading count gives them: anything else was not written by it.
        guard observed == cadence.readings, runLength == flatline.runLength(at: cadence.readings) else { throw reader.corrupt() }
        lastValue = try reader.read()
        tail.quantile = try reader.read()
        openEpisodes = try reader.read()
        deadlineQueued = try reader.read()
        profileSlot = try reader.read()
        quietReadings = try reader.read()
        quietDetectors = try reader.read()
    }
}

/// A device's own cadence (any of its readings), for telling a silent device from a silent metric.
struct DeviceState {
    var name: String
    var cadence = CadenceTracker()
    /// A device-level silence being reported (rare: out of line, see ``Boxed``).
    var gap: OpenEpisode? {
        get { gapBox?.value }
        set { gapBox = newValue.map(Boxed.init) }
    }
    private var gapBox: Boxed<OpenEpisode>?
    /// Spikes and change points of the instant `pendingTime`, judged together once the instant has passed.
    var pending: [PendingDetection] = []
    var pendingTime: Int64 = 0
    /// Until this event time the device is settling after a change of operating state.
    var settlingUntil = Int64.min
    var profile = DeviceProfile()
    /// (Declared after the profile, so it takes a byte of the profile's last word rather than a word of its own.)
    var deadlineQueued = false
    /// Event time of the device's first reading: devices that began after another fell silent (an import of
    /// files with different time ranges) say nothing about its silence.
    var firstTime = Int64.min
    /// The engine's arrival count at the device's latest new instant, and the usual number of arrivals between
    /// two of its instants (smoothed): how its silence is judged by its own arrival rather than event time.
    var lastArrival: Int64 = 0
    var arrivalSpacing = 0.0
    /// The device's instant before its latest one: a series missing from a whole instant of its device is silent;
    /// one not yet seen in the instant still arriving is not.
    var previousTime = Int64.min
    /// The device's series: each metric's index (the engine's settings index) in the high half, the series'
    /// index in the low half, sorted, so a reading finds its series by its metric (derived, never stored).
    private var seriesByMetric: [UInt64] = []

    init(name: String) { self.name = name }

    func seriesIndex(ofMetric metric: Int32) -> Int32? {
        let position = firstPosition(atLeast: metric)
        guard position < seriesByMetric.count, seriesByMetric[position] >> 32 == UInt64(UInt32(bitPattern: metric)) else { return nil }
        return Int32(truncatingIfNeeded: seriesByMetric[position] & 0xFFFF_FFFF)
    }

    /// (The metric must have no series of the device yet.)
    mutating func addSeries(_ index: Int32, ofMetric metric: Int32) {
        let entry = UInt64(UInt32(bitPattern: metric)) << 32 | UInt64(UInt32(bitPattern: index))
        // Grown by an eighth rather than doubled: a device's metrics arrive one by one, and doubling would leave
        // a typical device of ten metrics with room for sixteen.
        if seriesByMetric.count == seriesByMetric.capacity {
            seriesByMetric.reserveCapacity(seriesByMetric.count + max(1, seriesByMetric.count / 8))
        }
        seriesByMetric.insert(entry, at: firstPosition(atLeast: metric))
    }

    /// The indices of the device's series, in the order of their metrics' settings indices.
    var seriesIndices: [Int32] { seriesByMetric.map { Int32(truncatingIfNeeded: $0 & 0xFFFF_FFFF) } }

    /// What stays in memory of an evicted device (see AnomalyEngine+Eviction): its name and series, whether it
    /// has a queue entry, and what other devices' silence is judged by (``AnomalyEngine`` `isSilentByArrival`).
    /// Nothing else may be read until it is reloaded.
    var evictedStub: DeviceState {
        var stub = DeviceState(name: name)
        stub.cadence = cadence
        stub.gapBox = gapBox
        stub.deadlineQueued = deadlineQueued
        stub.firstTime = firstTime
        stub.lastArrival = lastArrival
        stub.seriesByMetric = seriesByMetric
        return stub
    }

    private func firstPosition(atLeast metric: Int32) -> Int {
        let wanted = UInt64(UInt32(bitPattern: metric)) << 32
        var low = 0, high = seriesByMetric.count
        while low < high {
            let middle = (low + high) / 2
            if seriesByMetric[middle] < wanted { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(name)
        cadence.encode(into: &writer)
        writer.write(deadlineQueued)
        writer.write(gap != nil)
        gap?.encode(into: &writer)
        writer.write(settlingUntil)
        writer.write(pendingTime)
        writer.write(UInt32(pending.count))
        for detection in pending { detection.encode(into: &writer) }
        profile.encode(into: &writer)
        writer.write(firstTime)
        writer.write(lastArrival)
        writer.write(arrivalSpacing)
        writer.write(previousTime)
    }

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        name = try reader.read()
        cadence = try CadenceTracker(from: &reader)
        deadlineQueued = try reader.read()
        gap = try reader.read(Bool.self) ? try OpenEpisode(from: &reader) : nil
        settlingUntil = try reader.read()
        pendingTime = try reader.read()
        let count = try reader.readCount(minimumItemSize: 45)
        for _ in 0..<count { pending.append(try PendingDetection(from: &reader)) }
        profile = try DeviceProfile(from: &reader)
        firstTime = try reader.read()
        lastArrival = try reader.read()
        arrivalSpacing = try reader.read()
        previousTime = try reader.read()
    }
}

/// One detector's open episode on one series.
struct EpisodeKey: Hashable, Comparable {
    var series: Int32
    var detector: AnomalyDetector

    static func < (lhs: EpisodeKey, rhs: EpisodeKey) -> Bool {
        (lhs.series, lhs.detector.rawValue) < (rhs.series, rhs.detector.rawValue)
    }
}
