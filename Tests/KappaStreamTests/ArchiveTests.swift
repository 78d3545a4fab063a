import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

@Suite struct ArchiveTests {
    /// The archive copies each checkpoint straight into the table; readings it has already stored (here sent
    /// again long after, beyond the duplicate window) make that COPY fail, and the checkpoint then stores the
    /// batch through staging and ON CONFLICT DO NOTHING: each reading once, nothing set aside, nothing lost.
    @Test(.timeLimit(.minutes(1))) func readingsStoredBeforeAreArchivedOnceAndTheRestOfTheirBatchToo() async throws {
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        let start = Timestamp.now().nanosecondsSinceEpoch / 60_000_000_000 * 60_000_000_000 - 3_600_000_000_000
        func reading(_ index: Int) -> Reading {
            Reading(device: "resender", metric: "level", time: Timestamp(nanosecondsSinceEpoch: start + Int64(index) * 1_000_000_000), value: Double(index))
        }
        let first = (0..<40).map(reading)
        try log.append(first)
        let database = try await migratedDatabase("archive-again")
        var configuration = ProcessorHarness.configuration()
        configuration.duplicateWindowRecords = 4
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.archive], configuration: configuration)

        // The device sends its history again with new readings: the stored ones are far outside the window.
        try log.append(first + (40..<60).map(reading))
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.archive], configuration: configuration)

        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let archived = try await connection.query("SELECT count(*), count(DISTINCT time), min(value), max(value) FROM kappa.readings WHERE device = 'resender'")
        #expect(try archived.first?[0].int == 60)
        #expect(try archived.first?[1].int == 60)
        #expect(try archived.first?[2].double == 0)
        #expect(try archived.first?[3].double == 59)
        let rejected = try await connection.query("SELECT count(*) FROM kappa.rejected_records")
        #expect(try rejected.first?[0].int == 0)
    }
}
