import Foundation
import KappaCore
import KappaSimulator
import KappaStream
import KappaTestSupport
import Testing

@Suite("Ground-truth file: JSON Lines and CSV, read back by the anomaly evaluation")
struct LabelFileFormatTests {
    func written(_ labels: [GroundTruthLabel], to name: String, format: LabelFileFormat? = nil) async throws -> (path: String, text: String) {
        let path = try TemporaryDirectory.make(prefix: "kappa-sim-labels") + "/" + name
        let writer = try LabelFileWriter(path: path, format: format)
        writer.write(Array(labels.prefix(labels.count / 2)))
        writer.write(Array(labels.dropFirst(labels.count / 2)))
        try await writer.close()
        return (path, try String(contentsOfFile: path, encoding: .utf8))
    }

    /// What the evaluation should read for each simulator label.
    func expected(_ labels: [GroundTruthLabel]) -> [AnomalyLabel] {
        labels.map { AnomalyLabel(device: $0.device, metric: $0.metric, kind: .init($0.kind.name), start: $0.start, end: $0.end) }
    }

    @Test("the format follows the file name unless given", arguments: [
        ("truth.csv", nil, LabelFileFormat.csv), ("TRUTH.CSV", nil, .csv), ("truth.jsonl", nil, .jsonLines),
        ("truth", nil, .jsonLines), ("truth.jsonl", LabelFileFormat.csv, .csv), ("truth.csv", .jsonLines, .jsonLines),
    ])
    func formatChoice(name: String, given: LabelFileFormat?, chosen: LabelFileFormat) throws {
        let path = try TemporaryDirectory.make(prefix: "kappa-sim-labels") + "/" + name
        #expect(try LabelFileWriter(path: path, format: given).format == chosen)
    }

    @Test("every label of a chaotic run survives a CSV round trip through the evaluation's parser")
    func csvRoundTrip() async throws {
        let labels = Fleet.generate(Scenarios.everything(), limit: 1_000_000).labels
        try #require(labels.count > 50)
        let (_, text) = try await written(labels, to: "truth.csv")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "device,metric,kind,start,end,topic,reason,offset_ms")
        #expect(lines.count == labels.count + 2)  // header, rows, and the empty piece after the final newline
        #expect(try AnomalyLabelParser.parse(text) == expected(labels))
    }

    @Test("JSON Lines and CSV of the same run read back the same")
    func bothFormatsAgree() async throws {
        let labels = Fleet.generate(Scenarios.anomaliesOnly(), limit: 1_000_000).labels
        try #require(!labels.isEmpty)
        let csv = try await written(labels, to: "truth.csv").text
        let jsonLines = try await written(labels, to: "truth.jsonl").text
        #expect(jsonLines.hasPrefix("{"))
        #expect(try AnomalyLabelParser.parse(csv) == AnomalyLabelParser.parse(jsonLines))
    }

    @Test("CSV fields with commas and quotes are quoted and read back whole")
    func quotedFields() throws {
        let start = Timestamp(secondsSinceEpoch: 1_795_564_800)
        let label = GroundTruthLabel(
            device: "odd,\"device\"", metric: "*", kind: .chaos(.malformed), start: start, end: start.adding(nanoseconds: 1_500_000_000),
            topic: "devices/odd,\"device\"/telemetry", reason: .malformedJSON
        )
        #expect(label.csvLine == #""odd,""device""",*,malformed,2026-11-25T00:00:00Z,2026-11-25T00:00:01.5Z,"devices/odd,""device""/telemetry",malformed_json,"#)
        let parsed = try AnomalyLabelParser.parse(GroundTruthLabel.csvHeader + "\r\n" + label.csvLine + "\r\n")
        #expect(parsed == [AnomalyLabel(device: "odd,\"device\"", metric: "*", kind: .init("malformed"), start: start, end: start.adding(nanoseconds: 1_500_000_000))])
    }

    @Test("a CSV header without a needed column, or a short row, is named")
    func badCSV() {
        #expect(throws: AnomalyLabelParser.Error.self) { try AnomalyLabelParser.parse("device,metric,start,end\na,t,2026-11-25T10:00:00Z,2026-11-25T10:00:00Z\n") }
        do {
            _ = try AnomalyLabelParser.parse("device,metric,kind,start,end\na,t,spike,2026-11-25T10:00:00Z\n")
            Issue.record("a row without its end column was accepted")
        } catch {
            #expect(error.code == .malformedCSV && error.line == 2)
        }
    }
}
