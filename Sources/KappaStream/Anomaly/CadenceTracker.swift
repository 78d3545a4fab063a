/// The usual spacing of a series' (or a device's) readings, learnt from its own event times, and when its
/// silence becomes a gap.
struct CadenceTracker {
    /// Event time of the latest reading (nanoseconds); meaningful once `readings > 0`.
    var lastTime: Int64 = 0
    var readings: Int64 = 0
    /// Smoothed interval in nanoseconds.
    var expectedInterval = 0.0
    var intervals: Int64 = 0

    private static let smoothing = 0.1
    /// One long silence must not teach the tracker that silence is normal.
    private static let intervalClip = 3.0

    /// Takes in a reading's time. Times not after the latest one (duplicates, late readings) teach nothing.
    mutating func observe(_ time: Int64) {
        defer { readings += 1 }
        guard readings > 0 else {
            lastTime = time
            return
        }
        guard time > lastTime else { return }
        var interval = Double(time - lastTime)
        if intervals > 0 { interval = min(interval, Self.intervalClip * expectedInterval) }
        let gain = max(Self.smoothing, 1 / Double(intervals + 1))
        expectedInterval += gain * (interval - expectedInterval)
        intervals += 1
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

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        lastTime = try reader.read()
        readings = try reader.read()
        expectedInterval = try reader.read()
        intervals = try reader.read()
    }
}
