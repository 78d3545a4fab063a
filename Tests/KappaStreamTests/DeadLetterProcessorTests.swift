import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import ServiceLifecycle
import Testing

@Suite("Dead letters into PostgreSQL", .timeLimit(.minutes(2)))
struct DeadLetterProcessorTests {
    func runUntil(_ expected: Int, log: TestLog, database: PostgresTestDatabase) async throws {
        let services = try ProcessorSet.make(
            roles: [.deadLetters], log: log.log, database: PostgresConfiguration(conninfo: database.conninfo),
            configuration: ProcessorHarness.configuration(), logger: quietLogger
        )
        let group = ServiceGroup(services: services, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let connection = try await ProcessorHarness.connectWithRetry(database)
            defer { Task { await connection.close() } }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let offsets = try? await connection.query(
                    "SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets WHERE stream = 'dead-letters'")
                if let committed = try? offsets?.first?[0].int64, committed == Int64(expected) { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func everyDeadLetterLandsOnceWithTopicPayloadAndReason() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "deadletters")
        let log = try TestLog()
        defer { log.remove() }
        let setup = try await database.connect()
        _ = try await SchemaMigrator().migrate(setup)
        await setup.close()
        let stream = try log.log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
        let receivedAt = Timestamp(microsecondsSinceEpoch: Timestamp.now().microsecondsSinceEpoch)
        var letters: [DeadLetter] = []
        for index in 0..<250 {
            let payload: [UInt8] = index == 0 ? [] : [0xFF, UInt8(index % 256), 0x00]
            let reason: DeadLetterReason = index % 2 == 0 ? .malformedJSON : .invalidUTF8
            let time = receivedAt.adding(nanoseconds: Int64(index) * 1_000)
            letters.append(DeadLetter(topic: "devices/d\(index % 5)/telemetry", payload: payload, receivedAt: time, reason: reason, message: "bad input \(index)"))
        }
        _ = try stream.append(Array(letters.prefix(100)).map {
            LogAppendRecord(key: $0.topic, eventTime: $0.receivedAt, value: DeadLetterRecord.encode($0))
        })
        try await runUntil(100, log: log, database: database)
        // A restart resumes after what was committed: the rest arrives, nothing twice.
        _ = try stream.append(Array(letters.dropFirst(100)).map {
            LogAppendRecord(key: $0.topic, eventTime: $0.receivedAt, value: DeadLetterRecord.encode($0))
        })
        try await runUntil(letters.count, log: log, database: database)

        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let rows = try await connection.query("SELECT received_at, topic, payload, reason, message FROM kappa.dead_letters ORDER BY received_at")
        #expect(rows.count == letters.count)
        for (row, letter) in zip(rows, letters) {
            #expect(try row[0].timestamp == letter.receivedAt)
            #expect(try row[1].string == letter.topic)
            #expect(try row[2].bytes == letter.payload)
            #expect(try row[3].string == letter.reason.rawValue)
            #expect(try row[4].string == letter.message)
        }
    }
}
