import KappaCore

/// Everything that decides what a fleet sends. The same scenario always gives the same messages and labels.
public struct FleetScenario: Hashable, Sendable {
    /// The seed every random choice derives from.
    public var seed: UInt64
    public var deviceCount: Int
    /// Device `i` is of kind `kinds[i % kinds.count]`.
    public var kinds: [DeviceKind]
    /// Event time of the fleet's first tick.
    public var start: Timestamp
    /// No tick at or after this event time; nil runs forever.
    public var end: Timestamp?
    public var format: TelemetryFormat
    /// Ticks per message in the `batch` format.
    public var batchSize: Int
    /// Prepended to every topic; a `/` is added between when it does not end in one.
    public var topicPrefix: String
    /// Topic of the `line` format; `{device}` is replaced by the device id.
    public var lineTopic: String
    /// Overrides every kind's cadence (seconds between ticks, chosen per device from the range).
    public var cadence: ClosedRange<Double>?
    /// Each interval varies by up to this fraction either way.
    public var jitter: Double
    /// Probability that a device tick starts an anomaly (at most one runs per device at a time).
    public var anomalyRate: Double
    public var anomalyKinds: [AnomalyKind]
    public var chaos: ChaosRates
    /// Groups and edge nodes of the `sparkplug` format.
    public var sparkplug: SparkplugFleetLayout

    public init(
        seed: UInt64 = 1,
        deviceCount: Int = 10,
        kinds: [DeviceKind] = DeviceKind.allCases,
        start: Timestamp,
        end: Timestamp? = nil,
        format: TelemetryFormat = .json,
        batchSize: Int = 10,
        topicPrefix: String = "",
        lineTopic: String = "influx/{device}",
        cadence: ClosedRange<Double>? = nil,
        jitter: Double = 0.1,
        anomalyRate: Double = 0,
        anomalyKinds: [AnomalyKind] = AnomalyKind.allCases,
        chaos: ChaosRates = .none,
        sparkplug: SparkplugFleetLayout = SparkplugFleetLayout()
    ) {
        self.seed = seed
        self.deviceCount = deviceCount
        self.kinds = kinds
        self.start = start
        self.end = end
        self.format = format
        self.batchSize = batchSize
        self.topicPrefix = topicPrefix
        self.lineTopic = lineTopic
        self.cadence = cadence
        self.jitter = jitter
        self.anomalyRate = anomalyRate
        self.anomalyKinds = anomalyKinds
        self.chaos = chaos
        self.sparkplug = sparkplug
    }

    /// `kind-NNNNN`: five digits, more for fleets past 100 000.
    public func deviceID(_ index: Int) -> String {
        let kind = kinds[index % kinds.count]
        let digits = String(index)
        let padding = max(0, 5 - digits.count)
        return "\(kind.rawValue)-\(String(repeating: "0", count: padding))\(digits)"
    }

    var normalizedPrefix: String {
        topicPrefix.isEmpty || topicPrefix.hasSuffix("/") ? topicPrefix : topicPrefix + "/"
    }
}
