import Foundation
import KappaCore
import Testing
@testable import KappaStream

/// Several metrics of one device jumping at one instant is a change of operating state, not an anomaly;
/// one metric jumping alone still is.
@Suite struct StateChangeTests {
    /// A machine's readings: every metric at the same instants, in payload order.
    func machine(jumpAt index: Int, jumping metrics: Set<String>, lagging: Bool = false, planted: [String: [Planted]] = [:]) -> [Reading] {
        let clock = SyntheticSeries(count: 2_000)
        let times = clock.times()
        var all: [[Reading]] = []
        for (offset, metric) in ["vibration", "current", "bearing_temperature"].enumerated() {
            var shape = SyntheticSeries(device: "machine-1", metric: metric, dailyAmplitude: 0, driftPerDay: 0, count: 2_000, seed: UInt64(offset + 3))
            if metrics.contains(metric) { shape.planted.append(Planted(kind: .levelShift, at: index, length: 2_000, magnitude: 60)) }
            shape.planted += planted[metric] ?? []
            var values = shape.readings().map(\.value)
            if lagging, metric == "bearing_temperature" {
                // Warms towards 40 noise scales above with a ten-minute time constant, as a bearing follows its load.
                for i in index..<values.count {
                    let minutes = Double(times[i].nanosecondsSinceEpoch - times[index].nanosecondsSinceEpoch) / 60e9
                    values[i] += 40 * shape.noise * (1 - exp(-minutes / 10))
                }
            }
            all.append(zip(times, values).map { Reading(device: "machine-1", metric: metric, time: $0, value: $1) })
        }
        return merged(all)
    }

    func alarms(_ found: [AnomalyEpisode]) -> [AnomalyEpisode] { found.filter { $0.detector == .spike || $0.detector == .changePoint } }

    @Test func metricsJumpingTogetherRaiseNoAlarmAndTheLaggingOneSettles() {
        let found = episodes(machine(jumpAt: 1_000, jumping: ["vibration", "current"], lagging: true))
        #expect(alarms(found).isEmpty, "\(found)")
    }

    @Test func oneMetricJumpingAloneIsStillAnAnomaly() throws {
        let found = episodes(machine(jumpAt: 1_000, jumping: ["current"]))
        let spike = try #require(found.first { $0.detector == .spike })
        let change = try #require(found.first { $0.detector == .changePoint })
        #expect(spike.metric == "current" && change.metric == "current")
        #expect(alarms(found).allSatisfy { $0.metric == "current" })
    }

    @Test func withTheJudgementOffEveryJumpAlarms() throws {
        var defaults = DetectorSettings()
        try defaults.set("state_change_metrics", to: 0)
        let found = episodes(machine(jumpAt: 1_000, jumping: ["vibration", "current"]), configuration: AnomalyConfiguration(defaults: defaults))
        #expect(Set(alarms(found).map(\.metric)) == ["vibration", "current"])
    }

    @Test func aSpikeWhileTheDeviceSettlesIsReported() throws {
        // 20 readings (about 200 s) after the state change, well inside the settling time.
        let readings = machine(jumpAt: 1_000, jumping: ["vibration", "current"], planted: ["bearing_temperature": [Planted(kind: .spike, at: 1_020, length: 1, magnitude: 30)]])
        let found = alarms(episodes(readings))
        #expect(found.count == 1 && found.first?.detector == .spike && found.first?.metric == "bearing_temperature", "\(found)")
    }

    @Test func heldDetectionsSurviveASnapshotTakenMidInstant() throws {
        for jumping: Set<String> in [["vibration", "current"], ["vibration"]] {
            let readings = machine(jumpAt: 1_000, jumping: jumping)
            var uninterrupted = AnomalyEngine()
            var expected = run(readings, through: &uninterrupted)
            uninterrupted.judgeAllPending(into: &expected)
            // Readings alternate vibration, current, bearing: split right after the first jump's vibration reading.
            let split = 3 * 1_000 + 1
            var first = AnomalyEngine()
            var events = run(readings[..<split], through: &first)
            #expect(!first.devicesWithPending.isEmpty)
            var second = try AnomalyEngine(snapshot: first.snapshot())
            events += run(readings[split...], through: &second)
            second.judgeAllPending(into: &events)
            #expect(events == expected)
            #expect(second.snapshot() == uninterrupted.snapshot())
        }
    }
}

@Suite struct ChangePointOnsetTests {
    @Test func aChangeStartsWhereTheShiftDidNotWhereItWasDeclared() throws {
        // Four and a half noise scales: below the spike threshold, so only the CUSUM sees it, a few readings late.
        // A CUSUM as sensitive as before the defaults were tuned on real data (slack 1.5, threshold 18 declare
        // shifts this small only sometimes): what is tested is where the onset is put, not the sensitivity.
        var defaults = DetectorSettings()
        try defaults.set("change_slack", to: 1)
        try defaults.set("change_threshold", to: 12)
        let series = SyntheticSeries(dailyAmplitude: 0, driftPerDay: 0, planted: [Planted(kind: .levelShift, at: 1_000, length: 500, magnitude: 4.5)])
        let found = episodes(series.readings(), configuration: AnomalyConfiguration(defaults: defaults))
        let change = try #require(found.first { $0.detector == .changePoint })
        let times = series.times()
        #expect(change.startTime >= times[997] && change.startTime <= times[1_000], "\(change)")
        #expect(change.detectedAt >= times[1_002], "declared a few readings in: \(change)")
        #expect(found.allSatisfy { $0.detector == .changePoint }, "\(found)")
    }

    @Test func anOlderSnapshotVersionIsRefusedSayingWhatToDo() throws {
        var engine = AnomalyEngine()
        _ = run(SyntheticSeries(count: 100).readings(), through: &engine)
        var bytes = engine.snapshot()
        bytes[4] = 1
        bytes[5] = 0
        do {
            _ = try AnomalyEngine(snapshot: bytes)
            Issue.record("a version 1 snapshot was accepted")
        } catch {
            #expect(error.code == .unsupportedVersion)
            #expect(error.description.contains("version 1") && error.description.contains("rebuild"), "\(error)")
        }
    }
}
