/// The detectors of the anomaly processor; the raw value is stored in snapshots, so never renumber.
public enum AnomalyDetector: UInt8, CaseIterable, Hashable, Comparable, Sendable, CustomStringConvertible {
    /// A value outside a configured static minimum or maximum.
    case threshold = 0
    /// One or a few values far from the adaptive baseline (robust z-score).
    case spike = 1
    /// The baseline itself moved: a level shift or a fast drift (two-sided CUSUM on the residual).
    case changePoint = 2
    /// The value moved faster per second of event time than a configured bound.
    case rateOfChange = 3
    /// The value repeated exactly for longer than chance explains: a stuck sensor.
    case flatline = 4
    /// A series, or a whole device, silent for several of its own learned intervals.
    case gap = 5
    /// A device's metrics together far from their long-run levels and relations (``DeviceProfile``); its
    /// episodes are device-level (metric `*`).
    case multivariate = 6

    /// The name written to the `anomalies` view's `detector` column and used in configuration keys.
    public var name: String {
        switch self {
        case .threshold: "threshold"
        case .spike: "spike"
        case .changePoint: "change_point"
        case .rateOfChange: "rate_of_change"
        case .flatline: "flatline"
        case .gap: "gap"
        case .multivariate: "multivariate"
        }
    }

    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    public var description: String { name }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A set of detectors, as one byte.
public struct AnomalyDetectorSet: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ detector: AnomalyDetector) { self.rawValue = 1 << detector.rawValue }

    public static let all = AnomalyDetectorSet(rawValue: 0b111_1111)

    @inlinable public func contains(_ detector: AnomalyDetector) -> Bool { rawValue & (1 << detector.rawValue) != 0 }
}
