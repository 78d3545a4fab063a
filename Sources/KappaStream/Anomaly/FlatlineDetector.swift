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
    /// Readings in the current run of identical values (1: the last value did not repeat).
    var runLength: Int64 = 0
    /// The series' reading count when the run began.
    var runStartReading: Int64 = 0
    /// Smoothed share of readings that repeated the previous value, learnt outside suspicious runs.
    var repeatRate = 0.0
    var repeatRateAtRunStart = 0.0
    var rises: Int64 = 0
    var falls: Int64 = 0

    private static let repeatSmoothing = 0.01

    /// True while the current run is long enough to stop the baseline learning its noise scale from it.
    var isInRun: Bool { runLength >= 3 }

    mutating func start(at time: Int64) {
        runStart = time
        runLength = 1
        runStartReading = 1
    }

    mutating func observe(time: Int64, value: Double, previous: Double, reading: Int64, _ settings: DetectorSettings) -> Detection? {
        let step = value - previous
        let repeated = abs(step) <= 1e-12 * max(1, abs(value))
        if repeated {
            runLength += 1
        } else {
            if step > 0 { rises = min(rises + 1, Int64(Int32.max)) } else { falls = min(falls + 1, Int64(Int32.max)) }
            runStart = time
            runLength = 1
            runStartReading = reading
            repeatRateAtRunStart = repeatRate
        }
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

    func encode(into writer: inout SnapshotWriter) {
        writer.write(runStart)
        writer.write(runLength)
        writer.write(runStartReading)
        writer.write(repeatRate)
        writer.write(repeatRateAtRunStart)
        writer.write(rises)
        writer.write(falls)
    }

    init() {}

    init(from reader: inout SnapshotReader) throws(AnomalySnapshotError) {
        runStart = try reader.read()
        runLength = try reader.read()
        runStartReading = try reader.read()
        repeatRate = try reader.read()
        repeatRateAtRunStart = try reader.read()
        rises = try reader.read()
        falls = try reader.read()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
