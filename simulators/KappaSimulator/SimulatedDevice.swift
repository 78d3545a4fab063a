import KappaCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One device's signal model: a profile drawn once from its seed, and the state that carries from tick to
/// tick (a lagging bearing temperature, an energy counter, a slow drift).
struct DeviceSignal {
    let kind: DeviceKind
    let metrics: [MetricModel]
    /// Hours added to UTC for the device's local day (sites in several time zones).
    private let localOffsetHours: Double
    /// Kind-specific level: room temperature, machine size, rated power.
    private let level: Double
    /// A second kind-specific level: room humidity, ambient temperature, nominal voltage.
    private let secondLevel: Double
    /// Change of the main level per day (sensor ageing, machine wear).
    private let driftPerDay: Double
    private let startMilliseconds: Int64
    private var counter: Double
    private var lagging: Double?
    private var lastTickMilliseconds: Int64?

    init(kind: DeviceKind, startMilliseconds: Int64, random: inout SplitMix64) {
        self.kind = kind
        self.metrics = kind.metrics
        self.startMilliseconds = startMilliseconds
        localOffsetHours = random.uniform(-3...3)
        switch kind {
        case .environment:
            level = random.uniform(19...24)
            secondLevel = random.uniform(35...55)
            driftPerDay = random.uniform(-0.05...0.05)
        case .machine:
            level = random.uniform(0.8...1.2)
            secondLevel = random.uniform(22...30)
            driftPerDay = random.uniform(0...0.02)
        case .power:
            level = random.uniform(2_000...8_000)
            secondLevel = random.uniform(228...234)
            driftPerDay = 0
        }
        counter = kind == .power ? random.uniform(1_000...50_000) : 0
    }

    /// The device's true values at `milliseconds`, noise included, in `metrics` order.
    mutating func values(at milliseconds: Int64, random: inout SplitMix64) -> [Double] {
        let hours = Double(milliseconds) / 3_600_000 + localOffsetHours
        let hour = hours - 24 * (hours / 24).rounded(.down)
        let days = Double(milliseconds - startMilliseconds) / 86_400_000
        let elapsedHours = lastTickMilliseconds.map { Double(milliseconds - $0) / 3_600_000 } ?? 0
        lastTickMilliseconds = milliseconds
        func noisy(_ value: Double, _ metric: Int) -> Double {
            value + metrics[metric].noise * random.gaussian()
        }
        switch kind {
        case .environment:
            let daily = sin(2 * Double.pi * (hour - 9) / 24)
            let occupancy = (8..<18).contains(hour) ? sin(Double.pi * (hour - 8) / 10) : 0
            let temperature = noisy(level + 2.5 * daily + driftPerDay * days, 0)
            let humidity = min(98, max(5, noisy(secondLevel - 2 * (temperature - level), 1)))
            let co2 = max(380, noisy(420 + 650 * occupancy, 2))
            return [temperature, humidity, co2]
        case .machine:
            let load = (6..<22).contains(hour) ? 0.65 + 0.25 * sin(2 * Double.pi * (hour - 6) / 8) : 0.12
            let target = secondLevel + 32 * load * level
            // The bearing warms and cools over about ten minutes, not instantly with the load.
            let previous = lagging ?? target
            let bearing = previous + (target - previous) * min(1, elapsedHours * 6)
            lagging = bearing
            let vibration = noisy(1.0 + 3.2 * load * level + driftPerDay * days, 0)
            let current = noisy(3 + 28 * load * level, 1)
            return [vibration, current, noisy(bearing, 2)]
        case .power:
            let morning = exp(-(hour - 8) * (hour - 8) / 4)
            let evening = exp(-(hour - 19) * (hour - 19) / 6)
            let demand = 0.25 + 0.45 * morning + 0.6 * evening
            let power = max(0, noisy(level * demand, 1))
            let voltage = noisy(secondLevel + 1.5 * sin(2 * Double.pi * hour / 24) - 6 * demand, 0)
            counter += power * elapsedHours / 1_000
            return [voltage, power, counter]
        }
    }
}
