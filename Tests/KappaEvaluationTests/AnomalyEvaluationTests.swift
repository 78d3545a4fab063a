import Foundation
import KappaCore
import KappaEvaluation
import KappaSimulator
import KappaStream
import Testing

/// `kappa eval anomalies`' library: the detector settings, the simulated and the labelled-file evaluations.
@Suite("anomaly evaluation")
struct AnomalyEvaluationTests {
    @Test("--set assignments apply in order over the defaults; a malformed one names itself; an unknown key is refused")
    func assignments() throws {
        let configuration = try AnomalyEvaluation.configuration(assignments: ["warmup_readings=5", "warmup_readings=7"])
        #expect(configuration.defaults.warmupReadings == 7)
        #expect(throws: EvaluationInputError.self) { try AnomalyEvaluation.configuration(assignments: ["warmup_readings"]) }
        #expect(throws: AnomalyConfigurationError.self) { try AnomalyEvaluation.configuration(assignments: ["no_such_key=1"]) }
    }

    @Test("a simulated evaluation: the scenario spans the duration, and the same seed gives the same readings and episodes", .timeLimit(.minutes(2)))
    func simulatedIsReproducible() async throws {
        let scenario = AnomalyEvaluation.scenario(devices: 3, duration: .seconds(1_800), anomalyRate: 0.01, duplicateRate: 0)
        #expect(scenario.end.map { $0.nanosecondsSinceEpoch - scenario.start.nanosecondsSinceEpoch } == 1_800_000_000_000)
        func run() async throws -> AnomalyEvaluation.Score {
            try await AnomalyEvaluation.simulated(
                seeds: [7], devices: 3, duration: .seconds(1_800), anomalyRate: 0.01, duplicateRate: 0,
                configuration: AnomalyConfiguration(), tolerance: 60_000_000_000
            )
        }
        let first = try await run()
        let second = try await run()
        #expect(first.readings > 0)
        #expect(first.readings == second.readings)
        #expect(first.evaluation.overall.episodes == second.evaluation.overall.episodes)
        #expect(first.evaluation.overall.labels == second.evaluation.overall.labels)
        #expect(first.origin == scenario.start)
    }

    @Test("labelled files: folders expand to their .csv files in natural order; a missing path is named")
    func files() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kappa-evaluation-test-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/valve1", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["valve1/10.csv", "valve1/2.csv", "valve1/notes.txt"] {
            _ = FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data())
        }
        #expect(try LabelledEvaluation.files([directory]) == ["\(directory)/valve1/2.csv", "\(directory)/valve1/10.csv"])
        #expect(try LabelledEvaluation.files(["\(directory)/valve1/2.csv"]) == ["\(directory)/valve1/2.csv"])
        #expect(throws: EvaluationInputError.self) { try LabelledEvaluation.files(["\(directory)/missing"]) }
        #expect(LabelledEvaluation.deviceName("\(directory)/valve1/10.csv") == "valve1/10")
    }

    @Test("a long labelled file goes through the import and the pipeline; every row is counted; a bad line names file and line", .timeLimit(.minutes(1)))
    func labelledRun() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kappa-evaluation-test-labelled-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var text = "time,device,metric,value,label\n"
        for minute in 0..<120 {
            text += "2025-01-01T\(String(format: "%02d:%02d", minute / 60, minute % 60)):00Z,pump,pressure,\(minute >= 100 ? 90.0 : 20.0 + Double(minute % 3)),\(minute >= 100 ? 1 : 0)\n"
        }
        let good = directory + "/good.csv"
        try text.write(toFile: good, atomically: true, encoding: .utf8)
        let result = try await LabelledEvaluation.run(files: [good], configuration: AnomalyConfiguration(), timeZone: ImportTimeZone("UTC")!)
        #expect(result.readings == 120)
        #expect(result.evaluation.truePositives + result.evaluation.falseNegatives == 20)
        #expect(result.evaluation.stretches == 1)

        let bad = directory + "/bad.csv"
        try "time,device,metric,value,label\n2025-01-01T00:00:00Z,pump,pressure,not-a-number,0\n".write(toFile: bad, atomically: true, encoding: .utf8)
        await #expect {
            try await LabelledEvaluation.run(files: [bad], configuration: AnomalyConfiguration(), timeZone: ImportTimeZone("UTC")!)
        } throws: { error in
            (error as? EvaluationInputError)?.description.hasPrefix("\(bad):2: ") == true
        }
    }
}
