import Foundation
import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// Replays into new output versions next to the live v1 processors, and switches the views between them.
@Suite struct ReplayTests {
    static let roles: [ProcessorRole] = [.rollups, .devices, .archive]

    static func configuration(version: String) -> ProcessorConfiguration {
        var configuration = ProcessorHarness.configuration()
        configuration.outputVersion = version
        return configuration
    }

    /// Runs a replay until it has caught up (the monitor then shuts the group down gracefully).
    static func replay(
        _ role: ProcessorRole, log: TestLog, database: PostgresTestDatabase,
        configuration: ProcessorConfiguration, start: ReplayStart = .earliest
    ) async throws -> Replay<DiskLog>.Preparation {
        let replay = Replay(
            role: role, start: start, configuration: configuration, log: log.log,
            database: PostgresConfiguration(conninfo: database.conninfo), logger: quietLogger
        )
        let preparation = try await replay.prepare()
        let services = try replay.services(untilCaughtUp: true, progressInterval: .milliseconds(50))
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: quietLogger)).run()
        return preparation
    }

    static func sumOfOffsets(_ connection: PostgresConnection, processor: String, version: String) async throws -> Int64 {
        try await connection.query(
            "SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets WHERE processor = $1 AND output_version = $2",
            [.text(processor), .text(version)]
        ).first![0].int64
    }

    @Test(.timeLimit(.minutes(2))) func replayFromEarliestWithTheSameConfigurationEqualsTheLiveTables() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(ReadingScript(devices: 5, metrics: 3, perSeries: 300, seed: 11).readings())
        let database = try await migratedDatabase("replay_same")
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: Self.roles)

        for role in Self.roles {
            let preparation = try await Self.replay(role, log: log, database: database, configuration: Self.configuration(version: "v2"))
            #expect(preparation.createdVersion && !preparation.resumed)
        }
        let connection = try await database.connect()
        let live = try await TableContents.read(connection, version: "v1")
        let replayed = try await TableContents.read(connection, version: "v2")
        #expect(!live.rollups.isEmpty && !live.archive.isEmpty)
        #expect(replayed.matches(live))
        let versions = try await OutputVersions().list(connection)
        for role in Self.roles {
            let v2 = try #require(versions.first { $0.processor == role.rawValue && $0.version == "v2" })
            #expect(v2.state == .caughtUp && !v2.isActive)
        }
        // The archive's day partitions were created under the new version's table.
        let partitions = try await connection.query("SELECT count(*)::bigint FROM pg_inherits WHERE inhparent = 'kappa.readings_v2'::regclass")
        #expect(try partitions.first![0].int64 > 0)
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2))) func replayWithOtherWidthsHasExactlyThoseWidths() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(ReadingScript(devices: 4, metrics: 2, perSeries: 300, seed: 12).readings())
        let database = try await migratedDatabase("replay_widths")
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.rollups])
        var configuration = Self.configuration(version: "fiveminutes")
        configuration.rollupWidths = [60, 300]
        _ = try await Self.replay(.rollups, log: log, database: database, configuration: configuration)

        let connection = try await database.connect()
        let widths = try await rowsAsText(connection, "SELECT DISTINCT width_seconds FROM kappa.rollups_fiveminutes JOIN kappa.series ON series.id = series_id ORDER BY 1")
        #expect(widths == [["60"], ["300"]])
        let minuteColumns = "device, metric, bucket, count, min, max, first_value, first_time, last_value, last_time, late"
        let liveMinutes = try await rowsAsText(connection, "SELECT \(minuteColumns) FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id WHERE width_seconds = 60 ORDER BY 1, 2, 3")
        let replayedMinutes = try await rowsAsText(connection, "SELECT \(minuteColumns) FROM kappa.rollups_fiveminutes JOIN kappa.series ON series.id = series_id WHERE width_seconds = 60 ORDER BY 1, 2, 3")
        #expect(replayedMinutes == liveMinutes)
        // Five-minute buckets regroup the same readings: per series, the same count as the hour buckets.
        let byWidth = """
            SELECT device, metric, sum(count)::bigint FROM kappa.%@ JOIN kappa.series ON series.id = series_id WHERE width_seconds = %@ GROUP BY 1, 2 ORDER BY 1, 2
            """
        let liveHours = try await rowsAsText(connection, String(format: byWidth, "rollups_v1", "3600"))
        let fiveMinutes = try await rowsAsText(connection, String(format: byWidth, "rollups_fiveminutes", "300"))
        #expect(fiveMinutes == liveHours && !liveHours.isEmpty)
        let buckets = try await rowsAsText(connection, "SELECT count(*) FROM kappa.rollups_fiveminutes JOIN kappa.series ON series.id = series_id WHERE width_seconds = 300 AND extract(epoch FROM bucket)::bigint % 300 <> 0")
        #expect(buckets == [["0"]])
        let stored = try #require(try await OutputVersions().version(connection, processor: "rollups", version: "fiveminutes"))
        #expect(stored.configuration == #"{"rollup_widths": [60, 300]}"#)
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2))) func stoppedAndResumedReplayEndsLikeOneRun() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(ReadingScript(devices: 8, metrics: 3, perSeries: 600, seed: 13).readings())
        let total = log.highWatermarks().reduce(0, +)
        let database = try await migratedDatabase("replay_resume")
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: Self.roles)

        var configuration = Self.configuration(version: "v2")
        configuration.maxBatchRecords = 50  // many small checkpoints
        let connection = try await database.connect()
        for role in Self.roles {
            // The replay's own threads can reach the end before this test's stop on a loaded machine: its later
            // checkpoints are slowed until the stop has landed.
            try await CheckpointBrake.engage(connection, version: "v2", seconds: 0.1)
            let replay = Replay(
                role: role, start: .earliest, configuration: configuration, log: log.log,
                database: PostgresConfiguration(conninfo: database.conninfo), logger: quietLogger
            )
            _ = try await replay.prepare()
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: try replay.services(untilCaughtUp: false, progressInterval: .milliseconds(50)), logger: quietLogger
            ))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                while try await Self.sumOfOffsets(connection, processor: role.rawValue, version: "v2") == 0 {
                    try await Task.sleep(for: .milliseconds(5))
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            try await CheckpointBrake.release(connection)
            let stoppedAt = try await Self.sumOfOffsets(connection, processor: role.rawValue, version: "v2")
            #expect(stoppedAt < total, "stopped before the end (\(stoppedAt) of \(total))")

            let resumed = try await Self.replay(role, log: log, database: database, configuration: configuration)
            #expect(resumed.resumed && !resumed.createdVersion && resumed.offsets.reduce(0, +) == stoppedAt)
        }
        let live = try await TableContents.read(connection, version: "v1")
        let replayed = try await TableContents.read(connection, version: "v2")
        #expect(replayed.matches(live))
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2))) func aResumedReplayRefusesOtherSettings() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(ReadingScript(devices: 2, metrics: 1, perSeries: 20).readings())
        let database = try await migratedDatabase("replay_mismatch")
        _ = try await Self.replay(.rollups, log: log, database: database, configuration: Self.configuration(version: "v2"))
        var other = Self.configuration(version: "v2")
        other.rollupWidths = [300]
        await #expect(throws: OutputVersionError.self) {
            _ = try await Self.replay(.rollups, log: log, database: database, configuration: other)
        }
    }
}
