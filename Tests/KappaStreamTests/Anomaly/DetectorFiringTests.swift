import KappaCore
import Testing
@testable import KappaStream

/// Each detector finds the anomaly planted for it, near where it was planted, and nothing else.
@Suite struct DetectorFiringTests {
    func only(_ detector: AnomalyDetector, in found: [AnomalyEpisode]) -> [AnomalyEpisode] { found.filter { $0.detector == detector } }

    @Test(arguments: [AnomalyLabel.Kind.spike, .dip])
    func spikeAndDip(kind: AnomalyLabel.Kind) throws {
        let series = SyntheticSeries(planted: [Planted(kind: kind, at: 1_000, length: 1, magnitude: 10)])
        let found = episodes(series.readings())
        let spike = try #require(only(.spike, in: found).first)
        #expect(found.count == 1)
        #expect(spike.startTime == series.labels()[0].start)
        #expect(spike.peakScore >= 6)
        let low = try #require(spike.expectedLow), high = try #require(spike.expectedHigh)
        let value = try #require(spike.value)
        #expect(kind == .spike ? value > high : value < low)
    }

    @Test func levelShiftIsOneChangePoint() throws {
        let series = SyntheticSeries(planted: [Planted(kind: .levelShift, at: 1_000, length: 1_000, magnitude: 8)])
        let found = episodes(series.readings())
        let changes = only(.changePoint, in: found)
        let label = series.labels()[0]
        let change = try #require(changes.first)
        #expect(changes.count == 1, "\(changes)")
        #expect(change.detectedAt >= label.start)
        #expect(change.detectedAt.nanosecondsSinceEpoch - label.start.nanosecondsSinceEpoch <= 5 * 12_000_000_000)
        // Once the change is taken in, the shifted level is normal: nothing else fires until the shift ends.
        #expect(found.allSatisfy { $0.startTime < label.start.adding(nanoseconds: 120_000_000_000) || $0.startTime >= label.end })
    }

    @Test func fastDriftIsAChangePoint() throws {
        let series = SyntheticSeries(planted: [Planted(kind: .drift, at: 1_000, length: 60, magnitude: 30)])
        let found = episodes(series.readings())
        let label = series.labels()[0]
        let change = try #require(only(.changePoint, in: found).first)
        #expect(change.detectedAt >= label.start && change.detectedAt <= label.end, "\(found)")
    }

    @Test func rateOfChangeOnlyWhereABoundIsSet() throws {
        let series = SyntheticSeries(planted: [Planted(kind: .levelShift, at: 800, length: 2_000, magnitude: 15)])
        #expect(only(.rateOfChange, in: episodes(series.readings())).isEmpty)
        var configuration = AnomalyConfiguration()
        try configuration.override("temp*", [.init("max_rate_per_second", 0.1)])
        let rate = try #require(only(.rateOfChange, in: episodes(series.readings(), configuration: configuration)).first)
        #expect(rate.startTime == series.labels()[0].start)
        #expect(rate.peakScore >= 1)
    }

    @Test func thresholdOnlyForConfiguredMetrics() throws {
        let hot = SyntheticSeries(metric: "room_temperature", base: 20, dailyAmplitude: 8, count: 5_000)
        let humid = SyntheticSeries(device: "dev-2", metric: "humidity", base: 20, dailyAmplitude: 8, count: 5_000)
        var configuration = AnomalyConfiguration()
        try configuration.override("*temperature*", [.init("max", 27)])
        let found = episodes(merged([hot.readings(), humid.readings()]), configuration: configuration)
        let breaches = only(.threshold, in: found)
        // The daily peak crosses 27 once in the day: one episode, critical, on the temperature only.
        #expect(breaches.count == 1, "\(breaches)")
        #expect(breaches.allSatisfy { $0.metric == "room_temperature" && $0.severity == .critical && ($0.value ?? 0) > 27 && $0.expectedHigh == 27 })
    }

    @Test func stuckSensorIsAFlatline() throws {
        let series = SyntheticSeries(planted: [Planted(kind: .stuck, at: 1_000, length: 200, magnitude: 0)])
        let found = episodes(series.readings())
        let label = series.labels()[0]
        let flat = only(.flatline, in: found)
        let stuck = try #require(flat.first)
        #expect(flat.count == 1)
        #expect(stuck.startTime <= label.start.adding(nanoseconds: 15_000_000_000) && stuck.startTime >= label.start.adding(nanoseconds: -15_000_000_000))
        // A run counts as stuck only after the configured minimum readings and time.
        let settings = DetectorSettings()
        #expect(stuck.detectedAt.nanosecondsSinceEpoch - stuck.startTime.nanosecondsSinceEpoch >= settings.flatlineMinimumNanoseconds)
        #expect(stuck.detectedAt.nanosecondsSinceEpoch - stuck.startTime.nanosecondsSinceEpoch >= Int64(settings.flatlineMinimumReadings - 1) * 8_000_000_000)
        #expect(try #require(stuck.endTime) <= label.end)
    }

    @Test func silentMetricIsASeriesGap() throws {
        let quiet = SyntheticSeries(metric: "temperature", planted: [Planted(kind: .dropout, at: 1_000, length: 100, magnitude: 0)], seed: 5)
        let talking = SyntheticSeries(metric: "humidity", base: 40, seed: 6)
        let found = episodes(merged([quiet.readings(), talking.readings()]))
        let gaps = only(.gap, in: found)
        let gap = try #require(gaps.first)
        #expect(gaps.count == 1, "\(gaps)")
        #expect(gap.metric == "temperature")
        let times = quiet.times()
        #expect(gap.startTime == times[999])
        #expect(gap.endTime == times[1_100])
        // Five learned intervals of about ten seconds, give or take the jitter, and then one whole instant of its
        // device without it (judged by the device's own time, not by other devices').
        let delay = gap.detectedAt.nanosecondsSinceEpoch - times[999].nanosecondsSinceEpoch
        #expect(delay > 45_000_000_000 && delay < 85_000_000_000, "\(delay)")
    }

    @Test func silentDeviceIsOneDeviceGap() throws {
        let planted = [Planted(kind: .dropout, at: 1_000, length: 100, magnitude: 0)]
        let temperature = SyntheticSeries(metric: "temperature", planted: planted, seed: 5)
        var humidity = temperature
        humidity.metric = "humidity"
        humidity.base = 40
        let other = SyntheticSeries(device: "dev-2", seed: 8)
        let found = episodes(merged([temperature.readings(), humidity.readings(), other.readings()]))
        let gaps = only(.gap, in: found)
        #expect(gaps.count == 1, "\(gaps)")
        #expect(gaps.first?.metric == AnomalyEpisode.wholeDevice && gaps.first?.device == "dev-1")
    }

    @Test func noAlarmsDuringWarmUp() {
        let early = SyntheticSeries(planted: [Planted(kind: .spike, at: 10, length: 1, magnitude: 30)])
        #expect(episodes(early.readings()).isEmpty)
        let later = SyntheticSeries(planted: [Planted(kind: .spike, at: 100, length: 1, magnitude: 30)])
        #expect(episodes(later.readings()).map(\.detector) == [.spike])
    }

    @Test func perMetricSettingsApply() throws {
        let series = SyntheticSeries(metric: "vibration", planted: [Planted(kind: .spike, at: 1_000, length: 1, magnitude: 8)])
        var configuration = AnomalyConfiguration()
        try configuration.override("vib*", [.init("spike_z", 10)])
        try configuration.override("temperature", [.init("spike_z", 3)])
        #expect(configuration.settings(for: "vibration").spikeZ == 10)
        #expect(configuration.settings(for: "temperature").spikeZ == 3)
        #expect(configuration.settings(for: "humidity").spikeZ == DetectorSettings().spikeZ)
        #expect(episodes(series.readings(), configuration: configuration).isEmpty)
        #expect(episodes(series.readings()).map(\.detector) == [.spike])
        var disabled = AnomalyConfiguration()
        try disabled.override("vibration", [.init("enable.spike", 0)])
        #expect(episodes(series.readings(), configuration: disabled).isEmpty)
    }
}

@Suite struct TransportChaosTests {
    @Test func duplicatesAndLateReadingsChangeNothing() {
        let series = SyntheticSeries(planted: [
            Planted(kind: .spike, at: 600, length: 1, magnitude: 12),
            Planted(kind: .levelShift, at: 1_200, length: 300, magnitude: 8),
        ])
        let clean = series.readings()
        var chaotic: [Reading] = []
        for (i, reading) in clean.enumerated() {
            chaotic.append(reading)
            if i % 7 == 0 { chaotic.append(reading) }                    // delivered twice
            if i % 11 == 0, i >= 3 { chaotic.append(clean[i - 3]) }     // an old reading arriving late
        }
        let expected = episodes(clean)
        #expect(!expected.isEmpty)
        #expect(episodes(chaotic) == expected)
    }
}
