import Foundation
import KappaCore
import KappaLog
import KappaPostgres
@testable import KappaStream
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

    /// Parses every line of a CSV text, failing on the first refused line.
    func parsed(_ text: String, device: String? = nil, metric: String? = nil, csv: CSVOptions = CSVOptions()) throws -> [Reading] {
        var parser = ImportLineParser(format: .csv, device: device, metric: metric, csv: csv)
        return try text.split(separator: "\n").flatMap { try parser.parse($0).get() }
    }

    @Test func semicolonWideFilesWithZonelessTimesAsSKABWritesThem() throws {
        let text = """
            datetime;Accelerometer1RMS;Volume Flow RateRMS;anomaly;changepoint
            2020-03-09 10:14:33;0.0251;31.5;0.0;0.0
            2020-03-09 10:14:34;0.0249;;1.0;0.0
            """
        let readings = try parsed(text, device: "valve1-0", csv: CSVOptions(ignoredColumns: ["anomaly", "changepoint"], timeZone: try #require(ImportTimeZone("+03:00"))))
        #expect(readings.map(\.metric) == ["Accelerometer1RMS", "Volume Flow RateRMS", "Accelerometer1RMS"], "an empty field is no reading")
        #expect(readings.allSatisfy { $0.device == "valve1-0" })
        // 10:14:33 at +03:00 is 07:14:33 UTC.
        #expect(readings.first?.time == Timestamp(rfc3339: "2020-03-09T07:14:33Z"))
        #expect(readings.last?.time == Timestamp(rfc3339: "2020-03-09T07:14:34Z"))
        #expect(readings.first?.value == 0.0251)
        // Without a zone given, zone-less times are UTC.
        #expect(try parsed(text, device: "v", csv: CSVOptions(ignoredColumns: ["anomaly", "changepoint"])).first?.time == Timestamp(rfc3339: "2020-03-09T10:14:33Z"))
    }

    @Test func tabSeparatedFilesWithNamedColumnsAndEpochMilliseconds() throws {
        let text = "stamp\tsensor\treading\tnote\n1714521600000\tboiler\t20.5\tok\n1714521600500\tboiler\t21\tok"
        let options = CSVOptions(timeColumn: "stamp", valueColumns: ["reading"])
        let readings = try parsed(text, device: "b", csv: options)
        #expect(readings.map(\.value) == [20.5, 21])
        #expect(readings.map(\.metric) == ["reading", "reading"])
        #expect(readings.map(\.time.nanosecondsSinceEpoch) == [1_714_521_600_000_000_000, 1_714_521_600_500_000_000])
    }

    @Test func epochUnitsAreToldApartByMagnitude() {
        let second = Timestamp(secondsSinceEpoch: 1_714_521_600)
        for text in ["1714521600", "1714521600000", "1714521600000000", "1714521600000000000"] {
            #expect(ImportTimestamp.parse(text, zone: .utc) == second, "\(text)")
        }
        #expect(ImportTimestamp.parse("2024-05-01T02:00:00+02:00", zone: .utc) == second)
        #expect(ImportTimestamp.parse("2024-05-01 00:00:00.000", zone: .utc) == second)
        #expect(ImportTimestamp.parse("01/05/2024", zone: .utc) == nil)
    }

    @Test func namedZonesFollowDaylightSaving() throws {
        let berlin = try #require(ImportTimeZone("Europe/Berlin"))
        // Winter: UTC+1; summer: UTC+2.
        #expect(ImportTimestamp.parse("2024-01-15 12:00:00", zone: berlin) == Timestamp(rfc3339: "2024-01-15T11:00:00Z"))
        #expect(ImportTimestamp.parse("2024-07-15 12:00:00", zone: berlin) == Timestamp(rfc3339: "2024-07-15T10:00:00Z"))
        #expect(ImportTimeZone("Not/AZone") == nil)
    }
}
