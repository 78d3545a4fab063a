/// The kinds of device the fleet mixes, each with its metrics and natural reporting cadence.
public enum DeviceKind: String, CaseIterable, Sendable {
    /// Room sensor: temperature follows the day, humidity moves against it, CO2 follows occupancy.
    case environment = "env"
    /// Machine on shifts: current, vibration and bearing temperature rise together with load.
    case machine
    /// Power meter: voltage sags under load, power follows morning and evening peaks, energy only grows.
    case power

    /// Metric names in the order they appear in payloads.
    public var metrics: [MetricModel] {
        switch self {
        case .environment:
            [
                MetricModel(name: "temperature", noise: 0.15, anomalyScale: 4),
                MetricModel(name: "humidity", noise: 0.8, anomalyScale: 15),
                MetricModel(name: "co2", noise: 15, anomalyScale: 500),
            ]
        case .machine:
            [
                MetricModel(name: "vibration_rms", noise: 0.08, anomalyScale: 4),
                MetricModel(name: "current", noise: 0.4, anomalyScale: 15),
                MetricModel(name: "bearing_temperature", noise: 0.2, anomalyScale: 15),
            ]
        case .power:
            [
                MetricModel(name: "voltage", noise: 0.8, anomalyScale: 25),
                MetricModel(name: "power", noise: 40, anomalyScale: 3_000),
                MetricModel(name: "energy_kwh", noise: 0, anomalyScale: 0, isCounter: true),
            ]
        }
    }

    /// Seconds between readings, chosen per device from this range.
    public var cadenceRange: ClosedRange<Double> {
        switch self {
        case .environment: 10...60
        case .machine: 1...5
        case .power: 5...15
        }
    }
}

/// One metric of a device kind: its name and how large its noise and injected anomalies are.
public struct MetricModel: Hashable, Sendable {
    /// Lowercase snake_case, as it appears in payloads and topics.
    public var name: String
    /// Standard deviation of the ordinary measurement noise.
    public var noise: Double
    /// Typical size of an injected anomaly, so that it stands out from the noise and the daily cycle.
    public var anomalyScale: Double
    /// A monotonic counter: never the target of value anomalies, which would break its monotonicity.
    public var isCounter: Bool

    public init(name: String, noise: Double, anomalyScale: Double, isCounter: Bool = false) {
        self.name = name
        self.noise = noise
        self.anomalyScale = anomalyScale
        self.isCounter = isCounter
    }
}
