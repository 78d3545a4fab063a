import Foundation
import KappaCore

/// ScaleBenchmark's load (and SeriesMemoryBenchmark's, fed straight to the processors): `devices` devices with ten metrics each, every device sending one JSON object with all ten
/// readings per round, round after round, so every series is active at once. kappa-sim's fleets have three
/// metrics per device and simulate far more than this needs; here payloads are made directly, in constant memory.
///
/// Event times: the rounds end at `now`, `spacing` apart (10 s, or closer when there are more than 360
/// rounds, so a run stays inside the last hour). Values follow a slow daily swing plus noise from a stateless
/// generator (so no series is ever flat and nothing needs remembering per series).
public struct SyntheticFleet: Sendable {
    public static let metrics = [
        "temperature", "humidity", "co2", "pressure", "voltage", "current", "power", "vibration", "flow", "level",
    ]
    /// Level, daily swing and noise of each metric, in its order above.
    private static let shapes: [(level: Double, swing: Double, noise: Double)] = [
        (21, 3, 0.2), (45, 8, 1), (600, 150, 20), (1013, 5, 0.5), (230, 4, 0.8),
        (12, 3, 0.4), (2_500, 900, 60), (0.8, 0.2, 0.05), (35, 6, 0.7), (70, 10, 0.9),
    ]

    public let devices: Int
    public let rounds: Int
    public let topicPrefix: String
    public let firstTime: Int64
    public let spacingMilliseconds: Int64

    public var messages: Int { devices * rounds }
    public var readings: Int { messages * Self.metrics.count }

    public init(devices: Int, rounds: Int, topicPrefix: String, now: Timestamp = .now()) {
        self.devices = devices
        self.rounds = rounds
        self.topicPrefix = topicPrefix
        spacingMilliseconds = min(10_000, 3_600_000 / Int64(max(1, rounds)))
        firstTime = now.nanosecondsSinceEpoch / 1_000_000 - Int64(rounds) * spacingMilliseconds
    }

    public static func deviceName(_ index: Int) -> String {
        let digits = String(index)
        return "dev-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    public func topic(device: String) -> String { "\(topicPrefix)/devices/\(device)/telemetry" }

    /// One round of one device: `{"ts":…,"temperature":21.53,…}`.
    public func payload(device: Int, round: Int) -> [UInt8] {
        Self.payload(seriesKey: UInt64(device), step: UInt64(round), milliseconds: firstTime + Int64(round) * spacingMilliseconds)
    }

    static func payload(seriesKey: UInt64, step: UInt64, milliseconds: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(220)
        bytes.append(contentsOf: "{\"ts\":\(milliseconds)".utf8)
        let dayPhase = Double(milliseconds % 86_400_000) / 86_400_000 * 2 * Double.pi
        for (index, metric) in metrics.enumerated() {
            let shape = shapes[index]
            var noise = NoiseSource(seed: seriesKey &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index) << 56 ^ step &* 0xBF58_476D_1CE4_E5B9)
            let value = shape.level + shape.swing * sin(dayPhase + Double(seriesKey % 97)) + shape.noise * noise.roughlyNormal()
            bytes.append(contentsOf: ",\"\(metric)\":".utf8)
            appendHundredths(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// Two decimals, without Foundation's formatter on the hot path.
    private static func appendHundredths(_ value: Double, to bytes: inout [UInt8]) {
        let hundredths = Int((value * 100).rounded())
        if hundredths < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = abs(hundredths)
        bytes.append(contentsOf: String(magnitude / 100).utf8)
        bytes.append(UInt8(ascii: "."))
        let fraction = magnitude % 100
        if fraction < 10 { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: String(fraction).utf8)
    }
}

/// SplitMix64: a few multiplications per value, no state kept between messages.
struct NoiseSource {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// The sum of four uniforms, centred and scaled to unit variance: close enough to normal for noise.
    mutating func roughlyNormal() -> Double {
        var sum = 0.0
        for _ in 0..<4 { sum += Double(next() >> 11) / Double(1 << 53) }
        return (sum - 2) * 1.732
    }
}

/// The README's example device, `env-00003`: one reading of each metric per minute over the last 24 hours, in
/// every size, so "one device's last day" returns the same rows whatever the number of other series.
public struct ProbeDevice: Sendable {
    public static let name = "env-00003"
    public static let minutes = 1_440

    public let topicPrefix: String
    public let lastTime: Int64

    public init(topicPrefix: String, now: Timestamp = .now()) {
        self.topicPrefix = topicPrefix
        lastTime = now.nanosecondsSinceEpoch / 1_000_000
    }

    public var readings: Int { Self.minutes * SyntheticFleet.metrics.count }
    public var topic: String { "\(topicPrefix)/devices/\(Self.name)/telemetry" }

    public func payload(minute: Int) -> [UInt8] {
        SyntheticFleet.payload(seriesKey: 0xE_0003, step: UInt64(minute), milliseconds: lastTime - Int64(Self.minutes - minute) * 60_000)
    }
}
