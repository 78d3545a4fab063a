import KappaCore
import Testing
@testable import KappaStream

@Suite struct SnapshotTests {
    @Test func restoredHalfwayGivesTheSameEventsAsAnUninterruptedRun() throws {
        let readings = SyntheticFleet(devices: 40, seed: 77, hours: 4).readings
        var configuration = AnomalyConfiguration()
        try configuration.override("*temperature*", [.init("max", 40), .init("max_rate_per_second", 0.5)])

        var uninterrupted = AnomalyEngine(configuration: configuration)
        let expected = run(readings, through: &uninterrupted)

        // The runtime replays from the checkpoint with the watermark where it was, so split after a watermark call.
        for split in [readings.count / 3, readings.count / 2] {
            var first = AnomalyEngine(configuration: configuration)
            var events = run(readings[..<split], through: &first)
            let bytes = first.snapshot()
            var second = try AnomalyEngine(configuration: configuration, snapshot: bytes)
            #expect(second.snapshot() == bytes)
            events += run(readings[split...], through: &second)
            #expect(events.count == expected.count)
            #expect(events == expected)
            #expect(second.openEpisodes() == uninterrupted.openEpisodes())
            #expect(second.snapshot() == uninterrupted.snapshot())
        }
        #expect(expected.contains { if case .episodeOpened = $0 { true } else { false } })
    }

    @Test func badBytesAreRefusedAndLeaveTheEngineAsItWas() throws {
        var engine = AnomalyEngine()
        _ = run(SyntheticFleet(devices: 3, seed: 5, hours: 6).readings, through: &engine)
        let bytes = engine.snapshot()
        var other = AnomalyEngine()
        #expect(throws: AnomalySnapshotError.self) { try other.restore(from: Array(bytes.dropLast(3))) }
        #expect(throws: AnomalySnapshotError.self) { try other.restore(from: [0, 1, 2, 3, 4, 5]) }
        var wrongVersion = bytes
        wrongVersion[4] = 99
        do {
            try other.restore(from: wrongVersion)
            Issue.record("a snapshot of an unknown version was accepted")
        } catch {
            #expect(error.code == .unsupportedVersion)
        }
        #expect(other.seriesCount == 0)
        try other.restore(from: bytes)
        #expect(other.seriesCount == engine.seriesCount)
    }
}

@Suite struct EpisodeFoldingTests {
    @Test func aLongFaultIsOneEpisode() throws {
        // Stuck for over an hour: hundreds of anomalous readings, one episode, a handful of updates.
        let series = SyntheticSeries(planted: [Planted(kind: .stuck, at: 500, length: 400, magnitude: 0)])
        var engine = AnomalyEngine()
        let events = run(series.readings(), through: &engine).filter { $0.episode.detector == .flatline }
        let opened = events.filter { if case .episodeOpened = $0 { true } else { false } }
        let updated = events.filter { if case .episodeUpdated = $0 { true } else { false } }
        let closed = events.filter { if case .episodeClosed = $0 { true } else { false } }
        #expect(opened.count == 1 && closed.count == 1)
        #expect(updated.count > 0 && updated.count < 40)
        let first = try #require(opened.first?.episode), last = try #require(closed.first?.episode)
        #expect(first.endTime == nil)
        #expect(last.startTime == first.startTime)
        #expect(last.peakScore > first.peakScore)
        #expect(last.severity == .critical)
        // Updates only ever report a grown peak.
        let peaks = ([first] + updated.map(\.episode)).map(\.peakScore)
        #expect(peaks == peaks.sorted())
    }

    @Test func severityFollowsScoreBands() {
        var settings = DetectorSettings()
        settings.criticalFactor = 2
        #expect(OpenEpisode.severity(7, .spike, settings) == .warning)
        #expect(OpenEpisode.severity(12, .spike, settings) == .critical)
        #expect(OpenEpisode.severity(1.5, .gap, settings) == .warning)
        #expect(OpenEpisode.severity(0.01, .threshold, settings) == .critical)
    }
}
