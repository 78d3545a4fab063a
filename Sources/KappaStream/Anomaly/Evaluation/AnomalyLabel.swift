import KappaCore

/// One entry of a ground-truth file: something the simulator did to a device, metric (or `"*"`), for a time.
public struct AnomalyLabel: Hashable, Sendable {
    public var device: String
    public var metric: String
    public var kind: Kind
    public var start: Timestamp
    public var end: Timestamp

    public init(device: String, metric: String, kind: Kind, start: Timestamp, end: Timestamp) {
        self.device = device
        self.metric = metric
        self.kind = kind
        self.start = start
        self.end = end
    }

    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let spike = Kind("spike")
        public static let dip = Kind("dip")
        public static let levelShift = Kind("level_shift")
        public static let drift = Kind("drift")
        public static let stuck = Kind("stuck")
        public static let dropout = Kind("dropout")
        public static let noiseBurst = Kind("noise_burst")

        /// Kinds that are anomalies in the signal, which the detectors are scored on. Everything else the
        /// simulator labels (duplicate, out_of_order, late, clock_skew, malformed, oversized, and kinds
        /// added later) is transport chaos: not scored, and episodes it alone explains are not counted false.
        public static let anomalies: [Kind] = [.spike, .dip, .levelShift, .drift, .stuck, .dropout, .noiseBurst]

        public var isAnomaly: Bool { Self.anomalies.contains(self) }

        /// The detectors expected to catch this kind, for per-detector recall:
        /// spikes and dips → spike; level shifts → change point; drift → change point (a drift slower than the
        /// baseline's trend can follow is, by design, not flagged; rate of change also catches drift where a
        /// bound is configured, but it is off by default so it is not held to it); a stuck sensor → flatline;
        /// a dropout → gap; a noise burst → spike (its large residuals). Threshold catches whatever crosses a
        /// configured limit and has no kind of its own.
        public var expectedDetectors: [AnomalyDetector] {
            switch self {
            case .spike, .dip, .noiseBurst: [.spike]
            case .levelShift, .drift: [.changePoint]
            case .stuck: [.flatline]
            case .dropout: [.gap]
            default: []
            }
        }
    }
}
