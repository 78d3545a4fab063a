import KappaCore
import Testing
@testable import KappaStream

@Suite struct QuietSignalTests {
    @Test(arguments: [10.0, 60.0])
    func noiseDailyCyclesAndSlowDriftRaiseNothing(intervalSeconds: Double) {
        var all: [AnomalyEpisode] = []
        for seed in UInt64(1)...12 {
            let series = SyntheticSeries(
                device: "dev-\(seed)", dailyAmplitude: 2 + Double(seed), driftPerDay: Double(seed % 4) - 1.5,
                noise: 0.1 + 0.05 * Double(seed % 3), intervalSeconds: intervalSeconds,
                count: Int(86_400 * 1.5 / intervalSeconds), seed: seed
            )
            all += episodes(series.readings())
        }
        #expect(all.isEmpty, "\(all.prefix(5))")
    }

    @Test func quantisedAndConstantSignalsAndCountersAtRestAreNotStuck() {
        let quantised = SyntheticSeries(device: "q", metric: "humidity", base: 40, dailyAmplitude: 3, noise: 0.3, quantum: 1, count: 5_000, seed: 3)
        let constant = SyntheticSeries(device: "c", metric: "setpoint", base: 21, dailyAmplitude: 0, driftPerDay: 0, noise: 0, count: 3_000, seed: 4)
        // An energy counter: rises while the machine runs, rests for an hour, rises again.
        var counter: [Reading] = []
        var energy = 1_000.0
        let start = Timestamp(secondsSinceEpoch: 1_795_000_000)
        for i in 0..<3_000 {
            if i < 1_000 || i >= 1_360 { energy += 0.5 + 0.01 * Double(i % 7) }
            counter.append(Reading(device: "m", metric: "energy", time: start.adding(nanoseconds: Int64(i) * 10_000_000_000), value: energy))
        }
        let found = episodes(merged([quantised.readings(), constant.readings(), counter]))
        #expect(found.filter { $0.detector == .flatline }.isEmpty, "\(found)")
    }
}
