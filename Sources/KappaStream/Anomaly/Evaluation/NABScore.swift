/// The Numenta Anomaly Benchmark's early-detection score (Lavin and Ahmad 2015, "Evaluating real-time
/// anomaly detection algorithms — the Numenta Anomaly Benchmark"), standard profile, written from the
/// paper's definition:
///
/// - each labelled anomaly has a window; NAB sizes all windows of a series together to 10% of its length,
///   centred on the anomaly. Our labels are stretches, so a stretch's window is the stretch widened on each
///   side by half its share of that 10%;
/// - the first alarm inside a window earns `A_TP · σ(y)`, where `y` is its position relative to the window's
///   end in window lengths (−1 at the start, 0 at the end) and `σ(y) = 2 / (1 + e^{5y}) − 1`; later alarms
///   in the same window count for nothing; a window without an alarm costs `A_FN`;
/// - each alarm outside every window costs `A_FP · σ(y)` with `y` measured from the end of the window before
///   it (so an alarm just after a window costs little), or `A_FP` when no window precedes it;
/// - standard profile: `A_TP = 1`, `A_FP = 0.11`, `A_FN = 1`;
/// - normalised over all series: `100 · (S − S_null) / (S_perfect − S_null)`, where the null detector never
///   fires (`S_null = −A_FN` per window) and the perfect one alarms at each window's start.
public struct NABScore: Sendable, Hashable {
    public static let truePositiveWeight = 1.0
    public static let falsePositiveWeight = 0.11
    public static let falseNegativeWeight = 1.0
    /// The share of a series that its windows cover together.
    public static let windowShare = 0.1

    public private(set) var raw = 0.0
    public private(set) var null = 0.0
    public private(set) var perfect = 0.0

    public init() {}

    /// The normalised score: 0 for a detector that never fires, 100 for a perfect one.
    public var normalised: Double { perfect == null ? 0 : 100 * (raw - null) / (perfect - null) }

    static func sigmoid(_ y: Double) -> Double { 2 / (1 + _exp(5 * y)) - 1 }

    /// Adds one series: its row times (ascending), labelled stretches (row index ranges) and alarm times.
    mutating func add(rowTimes: [Int64], stretches: [ClosedRange<Int>], alarms: [Int64]) {
        guard !stretches.isEmpty, !rowTimes.isEmpty else { return }
        let widen = Int((Self.windowShare * Double(rowTimes.count) / Double(stretches.count) / 2).rounded())
        let windows = stretches.map { stretch in
            (start: rowTimes[max(0, stretch.lowerBound - widen)], end: rowTimes[min(rowTimes.count - 1, stretch.upperBound + widen)])
        }
        var detected = Array(repeating: false, count: windows.count)
        for alarm in Set(alarms).sorted() {
            if let index = windows.firstIndex(where: { $0.start <= alarm && alarm <= $0.end }) {
                guard !detected[index] else { continue }
                detected[index] = true
                let window = windows[index]
                let length = Double(max(1, window.end - window.start))
                raw += Self.truePositiveWeight * Self.sigmoid(Double(alarm - window.end) / length)
            } else if let previous = windows.last(where: { $0.end < alarm }) {
                let length = Double(max(1, previous.end - previous.start))
                raw += Self.falsePositiveWeight * Self.sigmoid(Double(alarm - previous.end) / length)
            } else {
                raw -= Self.falsePositiveWeight
            }
        }
        raw -= Self.falseNegativeWeight * Double(detected.filter { !$0 }.count)
        null -= Self.falseNegativeWeight * Double(windows.count)
        perfect += Self.truePositiveWeight * Self.sigmoid(-1) * Double(windows.count)
    }
}

#if canImport(Glibc)
import Glibc
private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#elseif canImport(Darwin)
import Darwin
private func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
