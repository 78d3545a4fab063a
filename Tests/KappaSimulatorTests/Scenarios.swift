import KappaCore
import KappaSimulator

/// Fixed scenarios the tests share: a fixed start, so runs are byte-identical.
enum Scenarios {
    /// 2026-11-25T00:00:00Z
    static let start = Timestamp(secondsSinceEpoch: 1_795_564_800)

    static func everything(seed: UInt64 = 42, format: TelemetryFormat = .json) -> FleetScenario {
        FleetScenario(
            seed: seed, deviceCount: 12, start: start, end: start.adding(nanoseconds: 6 * 3_600 * 1_000_000_000),
            format: format, batchSize: 5, cadence: 5...10, anomalyRate: 0.02,
            chaos: ChaosRates(duplicate: 0.01, outOfOrder: 0.01, late: 0.01, clockSkew: 0.002, malformed: 0.01, oversized: 0.001)
        )
    }

    static func anomaliesOnly(seed: UInt64 = 7) -> FleetScenario {
        FleetScenario(
            seed: seed, deviceCount: 9, start: start, end: start.adding(nanoseconds: 12 * 3_600 * 1_000_000_000),
            cadence: 5...10, anomalyRate: 0.01
        )
    }
}
