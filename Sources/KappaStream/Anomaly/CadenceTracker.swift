/// The usual spacing of a series' (or a device's) readings, learnt from its own event times, and when its
/// silence becomes a gap.
///
/// Two kinds keep it: a device (``CadenceTracker``), whose readings of one instant share a time, so it counts
/// the intervals it learnt apart from its readings; and a series (``SeriesCadence``), which takes in only
/// readings after its latest, so every reading after its first is an interval and that count is not kept.
protocol CadenceTracking {
    /// Event time of the latest reading (nanoseconds); meaningful once `readings > 0`.
    var lastTime: Int64 { get set }
    var readings: Int64 { get set }
    /// Smoothed interval in nanoseconds.
    var expectedInterval: Double { get set }
    /// Intervals learnt.
    var intervals: Int64 { get }
    mutating func countInterval()
}

private let cadenceSmoothing = 0.1
/// One long silence must not teach the tracker that silence is normal.
private let cadenceIntervalClip = 3.0

extension CadenceTracking {
    /// Takes in a reading's time. Times not after the latest one (duplicates, late readings) teach nothing.
    mutating func observe(_ time: Int64) {
        defer { readings += 1 }
        guard readings > 0 else {
            lastTime = time
            return
        }
        guard time > lastTime else { return }
        var interval = Double(time - lastTime)
        if intervals > 0 { interval = min(interval, cadenceIntervalClip * expectedInterval) }
        let gain = max(cadenceSmoothing, 1 / Double(intervals + 1))
        expectedInterval += gain * (interval - expectedInterval)
        countInterval()
        lastTime = time
    }

    var intervalSeconds: Double { expectedInterval / 1e9 }

    /// The event time after which the series counts as silent, once enough intervals have been learnt.
    func silentAfter(_ settings: DetectorSettings) -> Int64? {
        guard intervals >= Int64(settings.gapWarmupIntervals), expectedInterval > 0 else { return nil }
        let allowed = max(Int64(settings.gapFactor * expectedInterval), settings.gapMinimumNanoseconds)
        return lastTime &+ allowed
    }

    /// How many allowed silences `now` is past the latest reading (≥ 1 means silent).
    func silenceScore(at now: Int64, _ settings: DetectorSettings) -> Double {
        let allowed = max(settings.gapFactor * expectedInterval, Double(settings.gapMinimumNanoseconds))
        return allowed > 0 ? Double(now - lastTime) / allowed : 0
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(lastTime)
        writer.write(readings)
        writer.write(expectedInterval)
        writer.write(intervals)
    }
}

/// A device's cadence (see ``CadenceTracking``).
struct CadenceTracker: CadenceTracking {
    var lastTime: Int64 = 0
    var readings: Int64 = 0
    var expectedInterval = 0.0
    var intervals: Int64 = 0

    mutating func countInterval() { intervals += 1 }

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        lastTime = try reader.read()
        readings = try reader.read()
        expectedInterval = try reader.read()
        intervals = try reader.read()
    }
}

/// A series' cadence (see ``CadenceTracking``): a million are kept at once, and the interval count follows from
/// the reading count, since a series takes in only readings after its latest.
struct SeriesCadence: CadenceTracking {
    var lastTime: Int64 = 0
    var readings: Int64 = 0
    var expectedInterval = 0.0

    var intervals: Int64 { readings > 0 ? readings - 1 : 0 }

    mutating func countInterval() {}

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        lastTime = try reader.read()
        readings = try reader.read()
        expectedInterval = try reader.read()
        // Written from the reading count: anything else was not written by a series.
        guard try reader.read(Int64.self) == intervals else { throw reader.corrupt() }
    }
}
