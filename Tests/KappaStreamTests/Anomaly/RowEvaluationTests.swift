import KappaCore
import Testing
@testable import KappaStream

/// Scoring against row labels: per row, per labelled stretch, and NAB's normalisation.
@Suite struct RowEvaluationTests {
    static let start = Timestamp(secondsSinceEpoch: 1_795_000_000)

    /// 1,000 rows a second apart; rows 400…599 anomalous.
    static func rows(device: String = "valve/1") -> [LabelledRows.Row] {
        (0..<1_000).map { LabelledRows.Row(device: device, time: start.adding(nanoseconds: Int64($0) * 1_000_000_000), anomalous: (400..<600).contains($0)) }
    }

    static func episode(from first: Int, to last: Int?, detectedAt: Int) -> AnomalyEpisode {
        func time(_ row: Int) -> Timestamp { start.adding(nanoseconds: Int64(row) * 1_000_000_000) }
        return AnomalyEpisode(
            device: "valve/1", metric: "*", detector: .multivariate, startTime: time(first), detectedAt: time(detectedAt),
            endTime: last.map(time), peakScore: 9, value: nil, expectedLow: nil, expectedHigh: nil, severity: .critical
        )
    }

    @Test func neverFiringScoresZeroAndAPerfectDetectorAHundred() {
        let silent = RowEvaluation(rows: Self.rows(), episodes: [], readingsByDevice: [:])
        #expect(silent.nab.normalised == 0)
        #expect(silent.recall == 0 && silent.stretchesFound == 0)
        let window = Int((0.1 * 1_000 / 2).rounded())
        let perfect = RowEvaluation(rows: Self.rows(), episodes: [Self.episode(from: 400, to: 599, detectedAt: 400 - window)], readingsByDevice: [:])
        #expect(abs(perfect.nab.normalised - 100) < 1e-9)
        #expect(perfect.f1 == 1 && perfect.stretchesFound == 1 && perfect.medianDelaySeconds == 0)
    }

    @Test func lateAlarmsEarnLessAndFalseOnesCost() {
        let early = RowEvaluation(rows: Self.rows(), episodes: [Self.episode(from: 400, to: 599, detectedAt: 420)], readingsByDevice: [:])
        let late = RowEvaluation(rows: Self.rows(), episodes: [Self.episode(from: 550, to: 599, detectedAt: 550)], readingsByDevice: [:])
        #expect(early.nab.normalised > late.nab.normalised && late.nab.normalised > 0)
        #expect(late.medianDelaySeconds == 150)
        let noisy = RowEvaluation(rows: Self.rows(), episodes: [Self.episode(from: 100, to: 110, detectedAt: 100), Self.episode(from: 400, to: 599, detectedAt: 420)], readingsByDevice: [:])
        #expect(noisy.nab.normalised < early.nab.normalised)
        #expect(noisy.falsePositives == 11 && noisy.episodesOutsideStretches == 1)
        // Per row: an open episode runs to the device's last row.
        let open = RowEvaluation(rows: Self.rows(), episodes: [Self.episode(from: 400, to: nil, detectedAt: 400)], readingsByDevice: [:])
        #expect(open.truePositives == 200 && open.falsePositives == 400)
    }

    @Test func anomalyFreeDevicesCountFalseEpisodesPer10kReadings() {
        var rows = Self.rows()
        rows += (0..<500).map { LabelledRows.Row(device: "clean", time: Self.start.adding(nanoseconds: Int64($0) * 1_000_000_000), anomalous: false) }
        var stray = Self.episode(from: 10, to: 12, detectedAt: 10)
        stray.device = "clean"
        let evaluation = RowEvaluation(rows: rows, episodes: [stray], readingsByDevice: ["clean": 4_000])
        #expect(evaluation.falseEpisodesPer10kReadings == 2.5)
        #expect(evaluation.falsePositives == 0, "clean devices are not in the per-row figures")
    }

    @Test func skabFilesAndLongFilesGiveRows() throws {
        let skab = try LabelledRows(text: "datetime;A;B;anomaly;changepoint\n2020-03-09 10:14:33;1;2;0.0;0.0\n2020-03-09 10:14:34;1;2;1.0;1.0\n", device: "valve1/0", timeZone: .utc)
        #expect(skab.hasLabels && skab.rows.map(\.anomalous) == [false, true] && skab.rows.allSatisfy { $0.device == "valve1/0" })
        let long = try LabelledRows(text: "time,device,metric,value,label\n1795000000,d1,x,1,0\n1795000000,d1,y,2,1\n1795000001,d2,x,1,0\n", device: "file", timeZone: .utc)
        #expect(long.rows.count == 2 && long.rows[0].anomalous && long.rows[1].device == "d2")
    }
}
