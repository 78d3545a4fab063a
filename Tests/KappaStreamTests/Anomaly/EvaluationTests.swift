import KappaCore
import Testing
@testable import KappaStream

@Suite struct EvaluationTests {
    let t0 = Timestamp(secondsSinceEpoch: 1_795_000_000)
    func at(_ seconds: Int64) -> Timestamp { t0.adding(nanoseconds: seconds * 1_000_000_000) }

    func episode(_ device: String, _ metric: String, _ detector: AnomalyDetector, _ start: Int64, _ end: Int64?, detected: Int64? = nil) -> AnomalyEpisode {
        AnomalyEpisode(
            device: device, metric: metric, detector: detector, startTime: at(start), detectedAt: at(detected ?? start),
            endTime: end.map(at), peakScore: 10, value: 0, expectedLow: nil, expectedHigh: nil, severity: .warning
        )
    }

    @Test func handMadeExample() throws {
        let labels = [
            AnomalyLabel(device: "a", metric: "t", kind: .spike, start: at(100), end: at(110)),       // found by spike
            AnomalyLabel(device: "a", metric: "t", kind: .levelShift, start: at(500), end: at(900)),  // found by change point, 30 s late
            AnomalyLabel(device: "b", metric: "*", kind: .dropout, start: at(200), end: at(400)),     // found by a device gap, 60 s late
            AnomalyLabel(device: "c", metric: "h", kind: .stuck, start: at(0), end: at(50)),          // missed
            AnomalyLabel(device: "c", metric: "h", kind: .init("duplicate"), start: at(700), end: at(700)),
        ]
        let episodes = [
            episode("a", "t", .spike, 104, 106),
            episode("a", "t", .changePoint, 530, 530),
            episode("a", "t", .spike, 530, 532),                // overlaps the level shift: a true positive for spike too
            episode("b", "*", .gap, 200, 400, detected: 260),
            episode("a", "t", .spike, 2_000, 2_001),            // nothing there: false
            episode("a", "h", .spike, 105, 105),                // other metric: false
            episode("c", "h", .spike, 700, nil),                // explained by chaos: not counted
        ]
        let evaluation = EpisodeEvaluation(episodes: episodes, labels: labels, tolerance: 0, openEnd: at(800))
        let overall = evaluation.overall
        #expect(overall.episodes == 7)
        #expect(overall.truePositives == 4 && overall.falsePositives == 2)
        #expect(overall.labels == 4 && overall.labelsFound == 3)
        #expect(abs(overall.precision - 4.0 / 6) < 1e-12)
        #expect(overall.recall == 0.75)
        #expect(abs(overall.f1 - 2 * (4.0 / 6) * 0.75 / (4.0 / 6 + 0.75)) < 1e-12)
        #expect(overall.medianDelaySeconds == 30)   // delays 4, 30, 60

        let spike = try #require(evaluation.scores(for: .spike))
        #expect(spike.truePositives == 2 && spike.falsePositives == 2 && spike.labels == 1 && spike.labelsFound == 1)
        #expect(spike.medianDelaySeconds == 4)
        let flatline = try #require(evaluation.scores(for: .flatline))
        #expect(flatline.labels == 1 && flatline.labelsFound == 0 && flatline.recall == 0)
        #expect(evaluation.scores(for: .gap)?.medianDelaySeconds == 60)
        #expect(evaluation.table.split(separator: "\n").count == AnomalyDetector.allCases.count + 2)
    }

    @Test func toleranceWidensTheMatch() {
        let labels = [AnomalyLabel(device: "a", metric: "t", kind: .spike, start: at(100), end: at(100))]
        let late = [episode("a", "t", .spike, 103, 103)]
        #expect(EpisodeEvaluation(episodes: late, labels: labels).overall.recall == 0)
        #expect(EpisodeEvaluation(episodes: late, labels: labels, tolerance: 5_000_000_000).overall.recall == 1)
    }

    @Test func labelLinesParse() throws {
        let text = """
        {"device":"env-00042","metric":"temperature","kind":"spike","start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:00:30.5Z"}

        {"device":"env-00043","metric":"*","kind":"dropout","start":"2026-11-25T11:00:00+01:00","end":"2026-11-25T10:05:00Z"}
        {"device":"env-00044","metric":"humidity","kind":"duplicate","start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:00:00Z"}
        """
        let labels = try AnomalyLabelParser.parse(text)
        #expect(labels.count == 3)
        let start = try #require(CivilTime(year: 2026, month: 11, day: 25, hour: 10).timestamp)
        #expect(labels[0] == AnomalyLabel(device: "env-00042", metric: "temperature", kind: .spike, start: start, end: start.adding(nanoseconds: 30_500_000_000)))
        #expect(labels[1].start == start && labels[1].kind == .dropout && labels[1].metric == "*")
        #expect(labels[2].kind.isAnomaly == false && labels[0].kind.isAnomaly)
    }

    @Test func aBadLineIsNamed() {
        let text = """
        {"device":"a","metric":"t","kind":"spike","start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:00:00Z"}
        {"device":"a","metric":"t","kind":"spike","start":"yesterday","end":"2026-11-25T10:00:00Z"}
        """
        #expect(throws: AnomalyLabelParser.Error(code: .badTime, line: 2, detail: "yesterday")) { try AnomalyLabelParser.parse(text) }
        #expect(throws: AnomalyLabelParser.Error(code: .malformedJSON, line: 1, detail: "")) { try AnomalyLabelParser.parse("{nope") }
    }
}

@Suite struct SyntheticEvaluationTests {
    @Test func allKindsMixedScoreWell() {
        let fleet = SyntheticFleet(devices: 200, seed: 2_026)
        let readings = fleet.readings
        let found = episodes(readings)
        let evaluation = EpisodeEvaluation(episodes: found, labels: fleet.labels, tolerance: 60_000_000_000, openEnd: readings.last?.time)
        let overall = evaluation.overall
        #expect(overall.labels > 100)
        #expect(overall.f1 >= 0.8, "\n\(evaluation.table)")
        #expect(overall.precision >= 0.8 && overall.recall >= 0.8, "\n\(evaluation.table)")
    }
}

@Suite struct EvaluationMissesTests {
    let t0 = Timestamp(secondsSinceEpoch: 1_795_000_000)
    func at(_ seconds: Int64) -> Timestamp { t0.adding(nanoseconds: seconds * 1_000_000_000) }

    @Test func listsFalseEpisodesAndMissedLabelsWithTheirNeighbours() {
        let labels = [
            AnomalyLabel(device: "a", metric: "t", kind: .levelShift, start: at(500), end: at(900)),
            AnomalyLabel(device: "a", metric: "t", kind: .stuck, start: at(2_000), end: at(2_100)),
        ]
        func episode(_ detector: AnomalyDetector, _ start: Int64, _ end: Int64) -> AnomalyEpisode {
            AnomalyEpisode(device: "a", metric: "t", detector: detector, startTime: at(start), detectedAt: at(start), endTime: at(end),
                           peakScore: 12, value: 0, expectedLow: nil, expectedHigh: nil, severity: .warning)
        }
        // The spike finds the level shift (any kind counts for precision) but the stuck run is found by no flatline.
        let episodes = [episode(.spike, 500, 510), episode(.changePoint, 1_200, 1_300), episode(.spike, 2_050, 2_050)]
        let misses = EvaluationMisses(episodes: episodes, labels: labels, tolerance: 60_000_000_000)
        #expect(misses.falseEpisodes == [episodes[1]])
        #expect(misses.missedLabels == [labels[0], labels[1]])
        let lines = misses.report(origin: t0).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == "FALSE change_point a/t 1200..1300 (detected 1200) peak 12.0 | nearest: level_shift t 500..900")
        #expect(lines[2] == "MISSED stuck a/t 2000..2100 | nearest episode: spike t 2050..2050")
    }
}
