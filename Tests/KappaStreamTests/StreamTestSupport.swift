import Foundation
import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Logging
import ServiceLifecycle

let quietLogger = Logger(label: "kappa.stream.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// A log in a fresh temporary directory.
struct TestLog {
    let directory: String
    let log: DiskLog
    let readings: DiskStream

    init(partitions: Int = 4) throws {
        directory = try TemporaryDirectory.make(prefix: "kappa-stream-test")
        var configuration = DiskLogConfiguration()
        configuration.fsync = .never
        configuration.diskFloorBytes = 0
        configuration.segmentMaxBytes = 1 << 20
        log = try DiskLog(directory: directory, configuration: configuration, logger: quietLogger)
        readings = try log.createStream(named: KappaStreams.readings, partitionCount: partitions)
    }

    func append(_ readings: [Reading]) throws {
        _ = try self.readings.append(readings.map { reading in
            LogAppendRecord(key: reading.device, eventTime: reading.time, value: ReadingRecord.encode(reading))
        })
    }

    func highWatermarks() -> [Int64] {
        (0..<readings.partitionCount).map { readings.offsets(partition: $0).highWatermark }
    }

    /// Closes the log (and its directory lock) so another process can open it.
    func close() {
        log.close()
    }

    func remove() {
        log.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Deterministic readings: `devices` × `metrics` series over `minutes` of event time ending an hour ago,
/// appended out of order in places, with some late stragglers and some redelivered duplicates.
struct ReadingScript {
    var devices = 6
    var metrics = 3
    var perSeries = 200
    var seed: UInt64 = 42
    /// Every n-th reading is appended again a few records later (a QoS 1 redelivery).
    var duplicateEvery = 17
    /// Every n-th reading is held back and appended much later (late).
    var lateEvery = 23

    /// The readings in append order; duplicates included. Times are unique per series.
    func readings() -> [Reading] {
        var random = SplitMix64(seed: seed)
        let base = (Timestamp.now().microsecondsSinceEpoch / 1_000_000 - 3 * 3600) * 1_000_000
        var fresh: [Reading] = []
        for index in 0..<perSeries {
            for device in 0..<devices {
                for metric in 0..<metrics {
                    // Steps of ~37 s with sub-second jitter: buckets of every width get several readings.
                    let micros = base + Int64(index) * 37_000_000 + Int64(device * 1000 + metric * 10) + Int64(random.next() % 900_000) * 1000 / 1000
                    let value = (Double(random.next() % 2_000_000) - 1_000_000) / 1000 + Double(metric) * 1e6
                    let tags = device % 2 == 0 ? [Tag(key: "site", value: "s\(device % 3)")] : []
                    fresh.append(Reading(device: "device-\(device)", metric: "m\(metric)", time: Timestamp(microsecondsSinceEpoch: micros), value: value, tags: tags))
                }
            }
        }
        var ordered: [Reading] = []
        var held: [Reading] = []
        var pendingDuplicates: [(due: Int, reading: Reading)] = []
        for (index, reading) in fresh.enumerated() {
            if lateEvery > 0, index % lateEvery == 5 {
                held.append(reading)
            } else if index % 7 == 3, let last = ordered.popLast() {
                ordered.append(reading)
                ordered.append(last)  // swapped: out of order by one
            } else {
                ordered.append(reading)
            }
            if duplicateEvery > 0, index % duplicateEvery == 0 {
                pendingDuplicates.append((ordered.count + Int(random.next() % 20), reading))
            }
            while let first = pendingDuplicates.first, first.due <= ordered.count {
                ordered.append(first.reading)
                pendingDuplicates.removeFirst()
            }
            if held.count >= 10 {
                ordered.append(contentsOf: held)
                held.removeAll()
            }
        }
        ordered.append(contentsOf: held)
        ordered.append(contentsOf: pendingDuplicates.map(\.reading))
        return ordered
    }
}

enum ProcessorHarness {
    static func configuration() -> ProcessorConfiguration {
        var configuration = ProcessorConfiguration()
        configuration.checkpointInterval = .milliseconds(20)
        configuration.maxBatchRecords = 500
        configuration.retryInitialDelay = .milliseconds(50)
        configuration.retryMaxDelay = .milliseconds(200)
        return configuration
    }

    /// Runs processors in a ServiceGroup until every one has committed `highWatermarks`, then shuts down gracefully.
    static func runUntilCaughtUp(
        log: TestLog,
        database: PostgresTestDatabase,
        roles: [ProcessorRole] = [.rollups, .devices, .archive],
        configuration: ProcessorConfiguration = configuration(),
        status: ProcessorStatus = ProcessorStatus(),
        whileRunning: @Sendable () async throws -> Void = {}
    ) async throws {
        let services = try ProcessorSet.make(
            roles: roles, log: log.log, database: PostgresConfiguration(conninfo: database.conninfo),
            configuration: configuration, status: status, logger: quietLogger
        )
        try await run(services, log: log, database: database, roles: roles, whileRunning: whileRunning)
    }

    /// Runs the services until every role has committed the log's high watermarks, then shuts down gracefully.
    static func run(
        _ services: [any Service], log: TestLog, database: PostgresTestDatabase, roles: [ProcessorRole],
        whileRunning: @Sendable () async throws -> Void = {}
    ) async throws {
        let group = ServiceGroup(services: services, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await whileRunning()
            try await waitUntilCommitted(database: database, roles: roles, offsets: log.highWatermarks())
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func waitUntilCommitted(database: PostgresTestDatabase, roles: [ProcessorRole], offsets: [Int64], timeout: Duration = .seconds(60)) async throws {
        let connection = try await connectWithRetry(database)
        defer { Task { await connection.close() } }
        let expected = offsets.reduce(0, +) * Int64(roles.count)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let rows = try? await connection.query(
                "SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets WHERE stream = 'readings' AND processor = ANY(string_to_array($1, ','))",
                [.text(roles.map(\.rawValue).joined(separator: ","))]
            ), let total = try? rows.first?[0].int64, total == expected {
                return
            }
            if await connection.isBroken { try? await connection.reset() }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("processors did not catch up within \(timeout)")
    }

    static func connectWithRetry(_ database: PostgresTestDatabase) async throws -> PostgresConnection {
        var attempts = 0
        while true {
            do { return try await database.connect() } catch {
                attempts += 1
                if attempts > 200 { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A query's rows as text, for comparing whole tables.
func rowsAsText(_ connection: PostgresConnection, _ sql: String) async throws -> [[String]] {
    let rows = try await connection.query(sql)
    return try rows.map { row in try (0..<row.count).map { row[$0].isNull ? "NULL" : try row[$0].string } }
}

/// A fresh database with Kappa's schema.
func migratedDatabase(_ prefix: String, server: PostgresServer = .shared) async throws -> PostgresTestDatabase {
    let database = try await server.makeDatabase(prefix: prefix)
    let connection = try await database.connect()
    try await SchemaMigrator().migrate(connection)
    await connection.close()
    return database
}

/// What the tables hold after a run, in an order that does not depend on how it got there.
struct TableContents: Equatable {
    /// Exact columns, sketches and percentiles included: merging sketches adds bin counts, so where checkpoints
    /// fall cannot change them.
    var rollups: [[String]]
    var rollupFloats: [[Double]]
    var devices: [[String]]
    var metrics: [[String]]
    var archive: [[String]]

    static func read(_ connection: PostgresConnection, version: String = "v1") async throws -> TableContents {
        let rollupKey = "ORDER BY device, metric, width_seconds, bucket"
        let floats = try await connection.query("SELECT sum, mean, m2 FROM kappa.rollups_\(version) JOIN kappa.series ON series.id = series_id \(rollupKey)")
        return TableContents(
            rollups: try await rowsAsText(connection, "SELECT device, metric, width_seconds, bucket, count, min, max, first_value, first_time, last_value, last_time, late, unit, sketch, p50, p90, p99 FROM kappa.rollups_\(version) JOIN kappa.series ON series.id = series_id \(rollupKey)"),
            rollupFloats: try floats.map { row in [try row[0].double, try row[1].double, try row[2].double] },
            devices: try await rowsAsText(connection, "SELECT device, first_seen, last_seen, readings, tags FROM kappa.devices_\(version) ORDER BY device"),
            metrics: try await rowsAsText(connection, "SELECT * FROM kappa.device_metrics_\(version) ORDER BY device, metric"),
            archive: try await rowsAsText(connection, "SELECT * FROM kappa.readings_\(version) ORDER BY device, metric, time")
        )
    }

    /// Exact for everything but the floating-point sums, which may differ in rounding (1e-9 relative).
    func matches(_ other: TableContents) -> Bool {
        guard rollups == other.rollups, devices == other.devices, metrics == other.metrics, archive == other.archive,
              rollupFloats.count == other.rollupFloats.count else { return false }
        return zip(rollupFloats, other.rollupFloats).allSatisfy { zip($0, $1).allSatisfy { closeEnough($0, $1) } }
    }
}

func closeEnough(_ a: Double, _ b: Double, relative: Double = 1e-9) -> Bool {
    a == b || abs(a - b) <= relative * max(abs(a), abs(b), 1e-300) || abs(a - b) < 1e-12
}
