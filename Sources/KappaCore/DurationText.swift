/// Durations as people type them on a command line: `500ms`, `30s`, `10m`, `2h`, `1d`, or a plain number of
/// seconds; decimals allowed (`1.5h`). The one parser of both executables (`kappa replay --rollup-widths`,
/// `kappa eval --duration`, `kappa-sim --duration` and `--cadence`).
public enum DurationText {
    public enum Problem: Error, Sendable, Equatable {
        /// Not a number with one of the units.
        case malformed
        /// A duration, but longer than the ~292 years a `Duration` in whole nanoseconds of an `Int64` holds.
        case tooLong
    }

    /// The duration `text` names; never negative.
    public static func parse(_ text: some StringProtocol) throws(Problem) -> Duration {
        let units: [(suffix: String, nanoseconds: Double)] = [("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3_600e9), ("d", 86_400e9)]
        var number = Substring(text)
        var scale = 1e9
        if let unit = units.first(where: { text.hasSuffix($0.suffix) }) {
            number = number.dropLast(unit.suffix.count)
            scale = unit.nanoseconds
        }
        // Double's parser takes "inf", "nan" and hex; a duration is digits with at most a point.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(number) else {
            throw .malformed
        }
        let nanoseconds = (value * scale).rounded(.towardZero)
        // 2^63 is exactly representable; anything at or above it does not fit.
        guard nanoseconds < 9_223_372_036_854_775_808.0 else { throw .tooLong }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// As ``parse(_:)``, nil for anything it rejects.
    public static func duration(_ text: some StringProtocol) -> Duration? {
        try? parse(text)
    }
}
