import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// Records that reach the log with names PostgreSQL refuses (written by an older bridge, imported, or past a
/// validation gap): every processor sets them aside and goes on, exactly once, for every other device.
@Suite("Processors: a record PostgreSQL refuses is set aside, never a stop", .timeLimit(.minutes(3)))
struct PoisonRecordTests {
    @Test func everyProcessorSetsPoisonAsideAndCommitsTheRestOnce() async throws {
        let log = try TestLog(partitions: 4)
        defer { log.remove() }
        let database = try await migratedDatabase("poison")
        let base = (Timestamp.now().microsecondsSinceEpoch / 60_000_000 - 120) * 60_000_000
        // Random, so that PostgreSQL cannot compress it under the index row limit.
        var random = SplitMix64(seed: 12)
        let randomDevice = String((0..<10_000).map { _ in Character(UnicodeScalar(UInt8(97 + random.next() % 26))) })
        var readings: [Reading] = []
        for index in 0..<400 {
            readings.append(Reading(device: "good-\(index % 8)", metric: "t", time: Timestamp(microsecondsSinceEpoch: base + Int64(index) * 1_000_000), value: Double(index)))
            switch index {
            case 50: readings.append(Reading(device: "bad-nul", metric: "t\u{0}x", time: Timestamp(microsecondsSinceEpoch: base), value: 1))  // 22021
            case 150: readings.append(Reading(device: randomDevice, metric: "t", time: Timestamp(microsecondsSinceEpoch: base), value: 1))  // 54000
            case 250: readings.append(Reading(device: "bad-tag", metric: "t", time: Timestamp(microsecondsSinceEpoch: base), value: 1, tags: [Tag(key: "k\u{0}", value: "v")]))
            default: break
            }
        }
        try log.append(readings)
        let status = ProcessorStatus()
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, status: status)

        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let rollups = try await connection.query("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device LIKE 'good-%'")
        #expect(try rollups[0][0].int64 == 400, "every good reading counted once")
        let archived = try await connection.query("SELECT count(*) FROM kappa.readings WHERE device LIKE 'good-%'")
        #expect(try archived[0][0].int64 == 400)
        let registered = try await connection.query("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices WHERE device LIKE 'good-%'")
        #expect(try registered[0][0].int64 == 400)
        let rejected = try await rowsAsText(connection, "SELECT processor, sqlstate FROM kappa.rejected_records ORDER BY processor, log_partition, log_offset")
        #expect(!rejected.isEmpty)
        #expect(rejected.contains { $0[1] == "54000" }, "the 10 000-byte device id overflows an index row: \(rejected)")
        for processor in ["archive", "devices", "rollups"] {
            let codes = rejected.filter { $0[0] == processor }.map { $0[1] }
            #expect(codes.count >= 2, "\(processor) set aside \(codes)")
            #expect(codes.contains("22021"), "\(processor): the NUL in a name")
            #expect(codes.allSatisfy { ["22", "23", "54"].contains(String($0.prefix(2))) }, "\(processor): \(codes)")
        }
        let snapshot = Array(status.snapshots.values)
        #expect(snapshot.allSatisfy { $0.failure == nil }, "no processor stopped: \(snapshot.map(\.failure))")
        #expect(snapshot.map(\.rejectedRecords).reduce(0, +) == Int64(rejected.count))
    }
}
