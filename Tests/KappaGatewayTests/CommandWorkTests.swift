import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaPostgres
import KappaStream
import KappaTestSupport
import Logging
import Testing
import KappaStorage

/// The work behind `kappa replay`/`process` flags, `kappa import` and `kappa dead-letters replay`.
@Suite("command work")
struct CommandWorkTests {
    static let logger = Logger(label: "kappa.test.commands", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("rollup widths: durations in whole seconds up to 366 days; anything else is named")
    func rollupWidths() throws {
        #expect(try ProcessorTuning.rollupWidths("30s,1m,5m,1h,1d") == [30, 60, 300, 3_600, 86_400])
        #expect(try ProcessorTuning.rollupWidths("366d") == [366 * 86_400])
        for (bad, part) in [("", ""), ("1m,", ""), ("0m", "0m"), ("1m,500ms", "500ms"), ("1x", "1x"), ("-1m", "-1m")] {
            #expect(throws: SettingsError("--rollup-widths: '\(part)' is not a width like 30s, 1m, 1h or 1d.")) { try ProcessorTuning.rollupWidths(bad) }
        }
        #expect(throws: SettingsError("--rollup-widths: '60s' is the same width as another.")) { try ProcessorTuning.rollupWidths("1m,60s") }
        for wide in ["367d", "999999999999999999d"] {
            #expect(throws: SettingsError("--rollup-widths: '\(wide)' is wider than 366d.")) { try ProcessorTuning.rollupWidths(wide) }
        }
    }

    @Test("tuning over the defaults: what is given changes, the rest keeps its default; 0 archive days keeps everything")
    func tuning() {
        var tuning = ProcessorTuning(checkpointInterval: .milliseconds(250), maxBatchRecords: 77)
        let defaults = ProcessorConfiguration()
        var configuration = tuning.configuration
        #expect(configuration.checkpointInterval == .milliseconds(250))
        #expect(configuration.maxBatchRecords == 77)
        #expect(configuration.outputVersion == defaults.outputVersion)
        #expect(configuration.rollupWidths == defaults.rollupWidths)
        #expect(configuration.archiveRetention == defaults.archiveRetention)
        tuning.outputVersion = "v2"
        tuning.threadNiceness = 10
        tuning.rollupWidths = [300]
        tuning.deviceOfflineAfterSeconds = 90
        tuning.archiveRetentionDays = 0
        configuration = tuning.configuration
        #expect(configuration.outputVersion == "v2")
        #expect(configuration.threadNiceness == 10)
        #expect(configuration.rollupWidths == [300])
        #expect(configuration.deviceOfflineAfter == .seconds(90))
        #expect(configuration.archiveRetention == nil)
        tuning.archiveRetentionDays = 2
        #expect(tuning.configuration.archiveRetention == .seconds(2 * 86_400))
    }

    @Test("import: CSV options from the flags' text; a bad zone or delimiter is named")
    func csvOptions() throws {
        let options = try HistoricalImport.csvOptions(timeZone: "+03:00", timeColumn: "at", valueColumns: "a, b", ignoreColumns: "note", delimiter: "tab")
        #expect(options.timeColumn == "at")
        #expect(options.valueColumns == ["a", "b"])
        #expect(options.ignoredColumns == ["note"])
        #expect(options.delimiter == "\t")
        #expect(options.timeZone == ImportTimeZone("+03:00"))
        #expect(throws: SettingsError("--timezone: Mars/Olympus is not UTC, an offset like +03:00, or a known zone name.")) {
            try HistoricalImport.csvOptions(timeZone: "Mars/Olympus", timeColumn: nil, valueColumns: nil, ignoreColumns: nil, delimiter: nil)
        }
        #expect(throws: SettingsError("--delimiter must be `,`, `;` or `tab`.")) {
            try HistoricalImport.csvOptions(timeZone: "UTC", timeColumn: nil, valueColumns: nil, ignoreColumns: nil, delimiter: "|")
        }
    }

    @Test("import: readings land in the readings stream, bad lines are reported and counted")
    func historicalImport() throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-import")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/readings.csv"
        try "time,device,metric,value\n2025-01-01T00:00:00Z,d1,t,1.5\n2025-01-01T00:01:00Z,d2,t,oops\n2025-01-01T00:02:00Z,d1,t,2.5\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let csv = try HistoricalImport.csvOptions(timeZone: "UTC", timeColumn: nil, valueColumns: nil, ignoreColumns: nil, delimiter: nil)
        var bad: [Int] = []
        let summary = try HistoricalImport(format: .csv, device: nil, metric: nil, csv: csv, partitions: 2)
            .run(files: [file], directory: LogDirectory(path: directory + "/data"), logger: Self.logger, onBadLine: { bad.append($0.line) }, onProgress: { _ in })
        #expect(summary.readings == 2)
        #expect(summary.badLines == 1)
        #expect(bad == [3])
        let log = try LogDirectory(path: directory + "/data").openReadOnly(logger: Self.logger)
        defer { log.close() }
        let stream = try log.openStream(named: KappaStreams.readings)
        #expect(stream.partitionCount == 2)
        #expect((0..<2).map { stream.offsets(partition: $0).count }.reduce(0, +) == 2)
    }

    @Test("dead-letter replay: a letter the routes now decode is replayed once; a log without dead letters is nil", .timeLimit(.minutes(1)))
    func deadLetterReplay() async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-dlq-replay")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try await PostgresServer.shared.makeDatabase(prefix: "dlqreplay")
        let kappa = KappaDatabase(configuration: PostgresConfiguration(conninfo: database.conninfo), schema: "kappa")
        let settings = try GatewaySettings.resolve(SettingsLayers(flags: [GatewaySettingsCatalog.dataDirectory: [directory]], environment: [:]))
        #expect(try await DeadLetterReplaying.replay(settings: settings, database: kappa, logger: Self.logger) == nil)

        let log = try DiskLog(directory: directory, logger: Self.logger)
        let letter = DeadLetter(
            topic: "devices/pump-1/telemetry", payload: Array(#"{"ts": 1732400000000, "temperature": 21.5}"#.utf8),
            receivedAt: Timestamp(secondsSinceEpoch: 1_732_400_001), reason: .unknownTopic, message: "no route matched"
        )
        _ = try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
            .append(key: Array(letter.topic.utf8), eventTime: letter.receivedAt, value: DeadLetterRecord.encode(letter))
        log.close()

        let first = try #require(try await DeadLetterReplaying.replay(settings: settings, database: kappa, logger: Self.logger))
        #expect(first.examined == 1)
        #expect(first.replayed == 1)
        #expect(first.readings == 1)
        let second = try #require(try await DeadLetterReplaying.replay(settings: settings, database: kappa, logger: Self.logger))
        #expect(second.replayed == 0)
        #expect(second.alreadyReplayed == 1)
    }
}
