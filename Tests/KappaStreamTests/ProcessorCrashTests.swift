import Foundation
import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// Kills `kappa process` with SIGKILL at random points, restarts it, and checks the tables end exactly as
/// after an uninterrupted run over the same log.
///
/// Needs the `kappa` executable next to the test bundle (`swift build --build-tests` builds it).
@Suite struct ProcessorCrashTests {
    private static var kappaExecutable: String? { try? KappaProcess.executable() }

    private static let roles: [ProcessorRole] = [.rollups, .devices, .archive]

    private static func startProcessor(_ executable: String, log: TestLog, database: PostgresTestDatabase, roles: [ProcessorRole] = roles) throws -> Process {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: executable)
        child.arguments = [
            "process", "--data-dir", log.directory, "--database", database.conninfo, "--roles", roles.map(\.rawValue).joined(separator: ","),
            "--checkpoint-milliseconds", "20", "--max-batch", "700",
        ]
        child.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: log.directory + "/process.log", contents: nil)
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: log.directory + "/process.log"))
        errors.seekToEndOfFile()
        child.standardError = errors
        try child.run()
        return child
    }

    private static func committed(_ database: PostgresTestDatabase) async throws -> Int64 {
        let connection = try await ProcessorHarness.connectWithRetry(database)
        defer { Task { await connection.close() } }
        let rows = try await connection.query("SELECT to_regclass('kappa.processor_offsets') IS NOT NULL")
        guard try rows.first?[0].bool == true else { return 0 }
        return try await connection.query("SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets").first?[0].int64 ?? 0
    }

    private static func runToCompletion(_ executable: String, log: TestLog, database: PostgresTestDatabase, highWatermarks: [Int64], roles: [ProcessorRole] = roles) async throws {
        let child = try startProcessor(executable, log: log, database: database, roles: roles)
        try await ProcessorHarness.waitUntilCommitted(database: database, roles: roles, offsets: highWatermarks, timeout: .seconds(90))
        // A killed run may already have committed everything: wait until this one has started its processors
        // (and so handles SIGTERM) before stopping it.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let output = (try? String(contentsOfFile: log.directory + "/process.log", encoding: .utf8)) ?? ""
            if output.components(separatedBy: "Processor resumed").count > roles.count { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.terminate()
        await waitForExit(child)
        #expect(child.terminationReason == .exit && child.terminationStatus == 0, "SIGTERM ends it gracefully")
    }

    /// Waits until the committed offsets pass `offsets`, or `timeout` passes.
    private static func waitForCommits(_ database: PostgresTestDatabase, beyond offsets: Int64, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await committed(database) <= offsets, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    private static func waitForExit(_ child: Process) async {
        while child.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    /// Starts and SIGKILLs the processors four times, each at a random moment after a checkpoint of its own, then
    /// runs them to completion.
    ///
    /// While the kills land, checkpoints are slowed in PostgreSQL (``CheckpointBrake``): a random delay alone, from
    /// the start or from a checkpoint, landed before any checkpoint when start-up was slow, or after the end when
    /// this test's task was starved in a full parallel run, and then killed nothing mid-run.
    private static func killAtRandomThenComplete(
        _ executable: String, log: TestLog, database: PostgresTestDatabase, highWatermarks: [Int64], total: Int64,
        roles: [ProcessorRole] = roles, seed: UInt64 = 2024
    ) async throws {
        let brake = try await ProcessorHarness.connectWithRetry(database)
        try await CheckpointBrake.engage(brake, version: "v1", seconds: 0.05)
        var random = SplitMix64(seed: seed)
        var killedMidRun = 0
        for _ in 0..<4 {
            let before = try await committed(database)
            let child = try startProcessor(executable, log: log, database: database, roles: roles)
            if before < total { try await waitForCommits(database, beyond: before, timeout: .seconds(60)) }
            try await Task.sleep(for: .milliseconds(Int(random.next() % 300)))
            kill(child.processIdentifier, SIGKILL)
            await waitForExit(child)
            #expect(child.terminationReason == .uncaughtSignal)
            let done = try await committed(database)
            if done > 0 && done < total { killedMidRun += 1 }
        }
        #expect(killedMidRun >= 2, "the kills should land while records are still being processed")
        try await CheckpointBrake.release(brake)
        await brake.close()
        try await runToCompletion(executable, log: log, database: database, highWatermarks: highWatermarks, roles: roles)
    }

    @Test(.timeLimit(.minutes(2))) func sigkillAtRandomPointsEndsIdenticalToAnUninterruptedRun() async throws {
        let executable = try #require(Self.kappaExecutable, "build the kappa executable first: swift build --build-tests")
        let log = try TestLog()
        defer { if ProcessInfo.processInfo.environment["KAPPA_KEEP_TEST_LOG"] == nil { log.remove() } }
        try log.append(ReadingScript(devices: 12, metrics: 4, perSeries: 1000, seed: 7).readings())
        let highWatermarks = log.highWatermarks()
        let total = highWatermarks.reduce(0, +) * 3
        log.close()

        let reference = try await migratedDatabase("crash_reference")
        try await Self.runToCompletion(executable, log: log, database: reference, highWatermarks: highWatermarks)

        let crashed = try await migratedDatabase("crash_killed")
        try await Self.killAtRandomThenComplete(executable, log: log, database: crashed, highWatermarks: highWatermarks, total: total)

        let referenceConnection = try await reference.connect()
        let crashedConnection = try await crashed.connect()
        let expected = try await TableContents.read(referenceConnection)
        let actual = try await TableContents.read(crashedConnection)
        #expect(!expected.rollups.isEmpty && !expected.archive.isEmpty)
        #expect(actual.rollups == expected.rollups)
        #expect(actual.devices == expected.devices)
        #expect(actual.metrics == expected.metrics)
        #expect(actual.archive.count == expected.archive.count)
        #expect(actual.matches(expected))
        await referenceConnection.close()
        await crashedConnection.close()
    }

    @Test(.timeLimit(.minutes(3))) func anomaliesAfterSigkillsAreIdenticalToAnUninterruptedRun() async throws {
        let executable = try #require(Self.kappaExecutable, "build the kappa executable first: swift build --build-tests")
        let log = try TestLog()
        defer { if ProcessInfo.processInfo.environment["KAPPA_KEEP_TEST_LOG"] == nil { log.remove() } }
        try log.append(AnomalyStreamScript(devices: 40, seed: 31, hours: 6).readings())
        let highWatermarks = log.highWatermarks()
        let total = highWatermarks.reduce(0, +)
        log.close()

        let reference = try await migratedDatabase("anomaly_crash_reference")
        try await Self.runToCompletion(executable, log: log, database: reference, highWatermarks: highWatermarks, roles: [.anomalies])
        let crashed = try await migratedDatabase("anomaly_crash_killed")
        try await Self.killAtRandomThenComplete(executable, log: log, database: crashed, highWatermarks: highWatermarks, total: total, roles: [.anomalies], seed: 99)

        let referenceConnection = try await reference.connect()
        let crashedConnection = try await crashed.connect()
        let expected = try await AnomalyTableContents.read(referenceConnection)
        let actual = try await AnomalyTableContents.read(crashedConnection)
        #expect(expected.episodes.count >= 20, "the script plants anomalies: they must show")
        #expect(actual.episodes == expected.episodes)
        #expect(actual.snapshots == expected.snapshots, "the engines end in the same state, byte for byte")
        await referenceConnection.close()
        await crashedConnection.close()
    }
}
