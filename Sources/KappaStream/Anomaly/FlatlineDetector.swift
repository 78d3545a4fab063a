/// A stuck sensor: the same value repeated for longer, and more often in a row, than the series' own
/// history makes plausible.
///
/// How often the series repeated its previous value before the run began sets the bar: a continuous noisy
/// signal (never repeats) is stuck after `flatlineMinimumReadings`; a quantised one that often repeats
/// needs a run so long that chance would explain it less than `flatlineChance`; a signal constant from its
/// first reading, or one that repeats nearly always, never alarms. Series that have only ever risen (counters)
/// are exempt: a counter at rest is not stuck.
struct FlatlineDetector {
    /// Event time of the run's first reading.
    var runStart: Int64 = 0
    /// The series' reading count when the run began. The run's length (readings in the current run of identical
    /// values, 1 when the last value did not repeat) follows from it and the series' count (``runLength(at:)``).
    var runStartReading: Int64 = 0
    /// Smoothed share of readings that repeated the previous value, learnt outside suspicious runs.
    var repeatRate = 0.0
    var repeatRateAtRunStart = 0.0
    /// Counted up to `Int32.max` and no further (all the detector asks is whether they are zero), so 32 bits hold them.
    var rises: Int32 = 0
    var falls: Int32 = 0

    private static let repeatSmoothing = 0.01

    /// Readings in the current run once the series has taken in `reading` readings: a run begins at one reading
    /// and grows by one with each repeat, so it spans every reading since it began.
    func runLength(at reading: Int64) -> Int64 { reading > 0 ? reading - runStartReading + 1 : 0 }

    /// True while the current run is long enough to stop the baseline learning its noise scale from it.
    func isInRun(at reading: Int64) -> Bool { runLength(at: reading) >= 3 }

    mutating func start(at time: Int64) {
        runStart = time
        runStartReading = 1
    }

    /// Takes in the series' `reading`th reading.
    mutating func observe(time: Int64, value: Double, previous: Double, reading: Int64, _ settings: DetectorSettings) -> Detection? {
        let step = value - previous
        let repeated = abs(step) <= 1e-12 * max(1, abs(value))
        if !repeated {
            if step > 0 {
                if rises < Int32.max { rises += 1 }
            } else {
                if falls < Int32.max { falls += 1 }
            }
            runStart = time
            runStartReading = reading
            repeatRateAtRunStart = repeatRate
        }
        let runLength = runLength(at: reading)
        if runLength <= Int64(settings.flatlineMinimumReadings) {
            let gain = max(Self.repeatSmoothing, 1 / Double(reading))
            repeatRate += gain * ((repeated ? 1 : 0) - repeatRate)
        }
        guard repeated, falls > 0 || rises == 0, runStartReading > Int64(settings.warmupReadings) else { return nil }
        let repeats = Double(runLength - 1)
        let readingsRatio = Double(runLength) / Double(settings.flatlineMinimumReadings)
        let durationRatio = settings.flatlineMinimumNanoseconds > 0
            ? Double(time - runStart) / Double(settings.flatlineMinimumNanoseconds) : readingsRatio
        let chance = max(repeatRateAtRunStart, 0.01)
        guard readingsRatio >= 1, durationRatio >= 1, chance < 1, repeats * log(chance) <= log(settings.flatlineChance) else {
            return nil
        }
        return Detection(start: runStart, score: min(readingsRatio, durationRatio), value: value, expectedLow: .nan, expectedHigh: .nan)
    }

    /// (`readings`: the series' reading count, from which the snapshot's run length is written.)
    func encode(into writer: inout SnapshotWriter, readings: Int64) {
        writer.write(runStart)
        writer.write(runLength(at: readings))
        writer.write(runStartReading)
        writer.write(repeatRate)
        writer.write(repeatRateAtRunStart)
        writer.write(Int64(rises))
        writer.write(Int64(falls))
    }

    init() {}

    /// Also returns the run length stored with it, which the series checks against its own reading count.
    init(from reader: inout SnapshotReader, runLength: inout Int64) throws(AnomalySnapshotError) {
        runStart = try reader.read()
        runLength = try reader.read()
        runStartReading = try reader.read()
        repeatRate = try reader.read()
        repeatRateAtRunStart = try reader.read()
        guard let rises = Int32(exactly: try reader.read(Int64.self)), rises >= 0,
              let falls = Int32(exactly: try reader.read(Int64.self)), falls >= 0 else { throw reader.corrupt() }
        self.rises = rises
        self.falls = falls
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
