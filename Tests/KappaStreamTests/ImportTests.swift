import Foundation
import KappaCore
import KappaLog
import KappaPostgres
import KappaStream
import KappaTestSupport
import Testing

/// `kappa import`'s parsing and appending, and that imported history replays like live data.
@Suite struct ImportTests {
    static func csv(_ readings: [Reading]) -> String {
        "time,device,metric,value\n" + readings.map { "\($0.time),\($0.device),\($0.metric),\($0.value)" }.joined(separator: "\n") + "\n"
    }

    @Test(.timeLimit(.minutes(2))) func importThenReplayEqualsLiveIngestion() async throws {
        var script = ReadingScript(devices: 5, metrics: 2, perSeries: 300, seed: 31)
        script.duplicateEvery = 13
        let readings = script.readings().map { reading in
            var plain = reading
            plain.tags = []  // CSV carries no tags
            return plain
        }
        let live = try TestLog()
        defer { live.remove() }
        try live.append(readings)
        let database = try await migratedDatabase("import_replay")
        try await ProcessorHarness.runUntilCaughtUp(log: live, database: database, roles: ReplayTests.roles)

        let imported = try TestLog()
        defer { imported.remove() }
        let file = imported.directory + "/history.csv"
        try Self.csv(readings).write(toFile: file, atomically: true, encoding: .utf8)
        var summary = ReadingImporter.Summary()
        var bad: [ReadingImporter.BadLine] = []
        try ReadingImporter(stream: imported.readings, batchSize: 500)
            .importFile(file, parser: ImportLineParser(format: .csv, device: nil, metric: nil), summary: &summary, onBadLine: { bad.append($0) })
        #expect(bad.isEmpty && summary.readings == readings.count && summary.lines == readings.count + 1)
        #expect(try LogContents.readings(of: imported.readings) == LogContents.readings(of: live.readings))

        for role in ReplayTests.roles {
            _ = try await ReplayTests.replay(role, log: imported, database: database, configuration: ReplayTests.configuration(version: "imported"))
        }
        let connection = try await database.connect()
        let fromLive = try await TableContents.read(connection, version: "v1")
        let fromImport = try await TableContents.read(connection, version: "imported")
        #expect(!fromLive.rollups.isEmpty && fromImport.matches(fromLive))
        await connection.close()
    }

    @Test func badLinesAreReportedWithTheirNumbers() throws {
        let log = try TestLog(partitions: 2)
        defer { log.remove() }
        let file = log.directory + "/mixed.csv"
        try """
            time,value
            2024-05-01T00:00:00Z,1.5
            yesterday,2
            1714521660,abc

            1714521720.25,3
            """.write(toFile: file, atomically: true, encoding: .utf8)
        var summary = ReadingImporter.Summary()
        var bad: [ReadingImporter.BadLine] = []
        try ReadingImporter(stream: log.readings)
            .importFile(file, parser: ImportLineParser(format: .csv, device: "boiler", metric: "temp"), summary: &summary, onBadLine: { bad.append($0) })
        #expect(bad.map(\.line) == [3, 4])
        #expect(summary.readings == 2 && summary.badLines == 2)
        let stored = try LogContents.readings(of: log.readings)
        #expect(stored.map(\.value).sorted() == [1.5, 3])
        #expect(stored.map(\.time.nanosecondsSinceEpoch).sorted() == [1_714_521_600_000_000_000, 1_714_521_720_250_000_000])
        #expect(stored.allSatisfy { $0.device == "boiler" && $0.metric == "temp" })
    }

    @Test func jsonLinesAndLineProtocolDecodeAsTheGatewayDoesAndNeedAnEventTime() {
        var json = ImportLineParser(format: .jsonl, device: "d1", metric: nil)
        let decoded = json.parse(#"{"ts": "2024-05-01T00:00:00Z", "temp": 20.5, "rh": 40}"#)
        #expect((try? decoded.get())?.map(\.metric).sorted() == ["rh", "temp"])
        #expect((try? decoded.get())?.allSatisfy { $0.device == "d1" && $0.time == Timestamp(secondsSinceEpoch: 1_714_521_600) } == true)
        #expect((try? json.parse(#"{"temp": 20.5}"#).get()) == nil, "no event time: refused")

        var line = ImportLineParser(format: .line, device: "d2", metric: nil)
        let lines = line.parse("weather temp=21.5 1714521600000000000")
        #expect((try? lines.get())?.first?.value == 21.5)
        #expect((try? line.parse("weather temp=21.5").get()) == nil, "no event time: refused")
    }

    @Test func namesPostgreSQLCannotStoreAreRefusedAsLiveIntakeRefusesThem() {
        var csv = ImportLineParser(format: .csv, device: nil, metric: nil)
        _ = csv.parse("time,device,metric,value")
        #expect((try? csv.parse("2024-05-01T00:00:00Z,d1,temp,1").get())?.count == 1)
        let longDevice = csv.parse("2024-05-01T00:00:00Z,\(String(repeating: "x", count: 10_000)),temp,1")
        #expect(throws: ImportProblem.self) { try longDevice.get() }
        let nulMetric = csv.parse("2024-05-01T00:00:00Z,d1,te\u{0}mp,1")
        #expect(throws: ImportProblem.self) { try nulMetric.get() }
        var json = ImportLineParser(format: .jsonl, device: "d1", metric: nil)
        #expect(throws: ImportProblem.self) { try json.parse(#"{"ts": "2024-05-01T00:00:00Z", "a\u0000b": 1}"#).get() }
    }
}
