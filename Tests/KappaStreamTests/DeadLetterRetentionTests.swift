import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import ServiceLifecycle
import Testing

/// Dead letters live in day partitions (migration 14) and leave with them after the retention.
@Suite(.timeLimit(.minutes(2)))
struct DeadLetterRetentionTests {
    static let day: Int64 = 86_400_000_000

    static func letter(_ index: Int, receivedAt: Int64) -> DeadLetter {
        DeadLetter(topic: "devices/d\(index)/telemetry", payload: [0xFF, UInt8(index)], receivedAt: Timestamp(microsecondsSinceEpoch: receivedAt),
                   reason: .invalidUTF8, message: "bad \(index)")
    }

    static func dayPartitions(_ connection: PostgresConnection) async throws -> [[String]] {
        try await rowsAsText(connection, """
            SELECT c.relname::text, (SELECT count(*) FROM kappa.dead_letters_v1 d WHERE d.tableoid = c.oid)::text
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'kappa.dead_letters_v1'::regclass ORDER BY 1
            """)
    }

    /// Letters stored before the migration move into day partitions and the view shows them as before; the
    /// first checkpoint then drops the days past the retention (and writes no letter already past it), keeping
    /// every newer day whole.
    @Test func oldDaysAreDroppedWholeAndNewerOnesKept() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "dead_letter_retention")
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        try await SchemaMigrator(schema: PostgresIdentifier(KappaSchema.defaultSchema), migrations: KappaSchema.migrations.filter { $0.version <= 13 })
            .migrate(connection)
        let now = Timestamp.now().microsecondsSinceEpoch
        for (index, daysAgo) in [45, 40, 29, 2, 0].enumerated() {
            try await connection.execute(
                """
                INSERT INTO kappa.dead_letters_v1 (log_partition, log_offset, received_at, topic, payload, reason, message, payload_size)
                VALUES (0, $1, to_timestamp($2::float8 / 1e6), 't', '\\x01', 'invalid_utf8', 'old', 1)
                """, [.int64(Int64(index)), .int64(now - Int64(daysAgo) * Self.day - 3_600_000_000)]
            )
        }
        let before = try await rowsAsText(connection, "SELECT received_at::text, topic, reason FROM kappa.dead_letters ORDER BY 1")
        try await SchemaMigrator().migrate(connection)
        #expect(try await rowsAsText(connection, "SELECT received_at::text, topic, reason FROM kappa.dead_letters ORDER BY 1") == before)
        let migrated = try await Self.dayPartitions(connection)
        #expect(migrated.count == 5 && migrated.allSatisfy { $0[1] == "1" }, "\(migrated)")

        let log = try TestLog()
        defer { log.remove() }
        let stream = try log.log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
        let letters = [Self.letter(10, receivedAt: now - 50 * Self.day), Self.letter(11, receivedAt: now)]
        _ = try stream.append(letters.map { LogAppendRecord(key: $0.topic, eventTime: $0.receivedAt, value: DeadLetterRecord.encode($0)) })
        var configuration = ProcessorHarness.configuration()
        configuration.deadLetterRetention = .seconds(30 * 86_400)
        let services = try ProcessorSet.make(
            roles: [.deadLetters], log: log.log, database: PostgresConfiguration(conninfo: database.conninfo),
            configuration: configuration, logger: quietLogger
        )
        let group = ServiceGroup(services: services, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let committed = await eventually(timeout: .seconds(30)) {
                try await connection.query(
                    "SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets WHERE stream = 'dead-letters'"
                ).first?[0].int64 == 2
            }
            #expect(committed)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let after = try await Self.dayPartitions(connection)
        let kept = Set(after.map { $0[0] })
        // The 45- and 40-day-old days are gone, the 29-day-old one and newer stay with their rows.
        for (index, partition) in migrated.enumerated() {
            #expect(kept.contains(partition[0]) == (index >= 2), "\(partition[0])")
        }
        let topics = try await rowsAsText(connection, "SELECT topic FROM kappa.dead_letters ORDER BY received_at")
        #expect(topics == [["t"], ["t"], ["t"], ["devices/d11/telemetry"]])
        #expect(after.count >= 3 + 3, "today and the days ahead exist")
    }
}
