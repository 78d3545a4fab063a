import KappaGateway
import KappaPostgres
import KappaTestSupport
import Logging
import ServiceLifecycle
import Testing

/// Connect → migrate → work → close, against the harness's real PostgreSQL.
@Suite("database session of the commands")
struct KappaDatabaseTests {
    static let logger = Logger(label: "kappa.test.database", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Sessions of `application` connected to the server, as another session sees them.
    static func sessions(of application: String, in database: PostgresTestDatabase) async throws -> Int64 {
        let observer = PostgresConfiguration(conninfo: database.conninfo, applicationName: "kappa-test-observer")
        return try await PostgresConnection.withConnection(observer, logger: logger) { connection in
            let rows = try await connection.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", [.text(application)])
            return try rows[0][0].int64
        }
    }

    /// The server ends a backend shortly after its client said goodbye: wait a little for the count to reach 0.
    static func sessionsAfterClose(of application: String, in database: PostgresTestDatabase) async throws -> Int64 {
        var count = try await sessions(of: application, in: database)
        for _ in 0..<50 where count > 0 {
            try await Task.sleep(for: .milliseconds(100))
            count = try await sessions(of: application, in: database)
        }
        return count
    }

    static func kappaDatabase(_ database: PostgresTestDatabase, application: String, schema: String = "kappa") -> KappaDatabase {
        KappaDatabase(configuration: PostgresConfiguration(conninfo: database.conninfo, applicationName: application), schema: schema)
    }

    @Test("withConnection migrates, runs the body, and the session is gone when it returns", .timeLimit(.minutes(1)))
    func migratesRunsAndCloses() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "scoped")
        let kappa = Self.kappaDatabase(database, application: "kappa-scoped", schema: "scoped_kappa")
        let (tables, sessionsInside) = try await kappa.withConnection(logger: Self.logger) { connection in
            let rows = try await connection.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'processor_offsets'", [.text("scoped_kappa")]
            )
            return (try rows[0][0].int64, try await Self.sessions(of: "kappa-scoped", in: database))
        }
        #expect(tables == 1)
        #expect(sessionsInside == 1)
        #expect(try await Self.sessionsAfterClose(of: "kappa-scoped", in: database) == 0)
    }

    @Test("a body that throws: the error comes through and the session is closed all the same", .timeLimit(.minutes(1)))
    func closesOnError() async throws {
        struct Refused: Error {}
        let database = try await PostgresServer.shared.makeDatabase(prefix: "scopedfail")
        let kappa = Self.kappaDatabase(database, application: "kappa-scoped-fail")
        await #expect(throws: Refused.self) {
            try await kappa.withConnection(migrate: false, logger: Self.logger) { _ in throw Refused() }
        }
        #expect(try await Self.sessionsAfterClose(of: "kappa-scoped-fail", in: database) == 0)
    }

    @Test("migrate applies every migration once; the status then lists them all applied", .timeLimit(.minutes(1)))
    func migrateAndStatus() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "migrate")
        let kappa = Self.kappaDatabase(database, application: "kappa-migrate")
        let before = try await kappa.migrationStatus(logger: Self.logger)
        #expect(!before.isEmpty && before.allSatisfy { !$0.isApplied })
        let first = try await kappa.migrate(logger: Self.logger)
        let second = try await kappa.migrate(logger: Self.logger)
        #expect(first.map(\.version) == before.map(\.version))
        #expect(second.isEmpty)
        #expect(try await kappa.migrationStatus(logger: Self.logger).allSatisfy(\.isApplied))
        #expect(try await Self.sessionsAfterClose(of: "kappa-migrate", in: database) == 0)
    }

    @Test("output versions: listed through one migrated session; the active v1 counts as caught up, a missing version does not", .timeLimit(.minutes(1)))
    func outputVersions() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "versions")
        let kappa = Self.kappaDatabase(database, application: "kappa-versions")
        let listed = try await kappa.withOutputVersions(logger: Self.logger) { versions, connection in try await versions.list(connection) }
        let rollups = try #require(listed.first { $0.processor == "rollups" })
        #expect(rollups.version == "v1")
        #expect(rollups.state == .active)
        #expect(try await kappa.hasCaughtUp(processor: "rollups", version: "v1", logger: Self.logger))
        #expect(try await !kappa.hasCaughtUp(processor: "rollups", version: "v9", logger: Self.logger))
        #expect(try await Self.sessionsAfterClose(of: "kappa-versions", in: database) == 0)
    }

    @Test("retrying: a reachable database is used at once", .timeLimit(.minutes(1)))
    func retryingSucceedsAtOnce() async throws {
        let database = try await PostgresServer.shared.makeDatabase(prefix: "retryok")
        let kappa = Self.kappaDatabase(database, application: "kappa-retry-ok")
        let failures = FailureLog()
        let answer = await kappa.withConnectionRetrying(logger: Self.logger, onFailure: { error, _ in failures.record(error) }) { connection in
            try await connection.query("SELECT 41 + 1")[0][0].int
        }
        #expect(answer == 42)
        #expect(failures.count == 0)
    }

    @Test("retrying: an unreachable database is tried again with a doubling wait until shutdown, then nil", .timeLimit(.minutes(1)))
    func retryingUntilShutdown() async throws {
        let port = LoopbackPort.free()
        let kappa = KappaDatabase(
            configuration: PostgresConfiguration(conninfo: "host=127.0.0.1 port=\(port) user=postgres dbname=postgres", connectTimeoutSeconds: 1),
            schema: "kappa"
        )
        let failures = FailureLog()
        let service = RetryingService(kappa: kappa, failures: failures)
        let group = ServiceGroup(configuration: .init(services: [service], logger: Self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while failures.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(service.result.value == .some(nil))
        let waits = failures.waits
        #expect(Array(waits.prefix(3)) == [.milliseconds(10), .milliseconds(20), .milliseconds(40)])
    }
}

/// What `onFailure` heard.
final class FailureLog: Sendable {
    private let entries = Mutex<[Duration]>([])
    func record(_ error: any Error, wait: Duration = .zero) { entries.withLock { $0.append(wait) } }
    var count: Int { entries.withLock { $0.count } }
    var waits: [Duration] { entries.withLock { $0 } }
}

/// Retries with short waits inside a service group, so graceful shutdown is what ends it.
struct RetryingService: Service {
    let kappa: KappaDatabase
    let failures: FailureLog
    let result = ResultBox()

    func run() async throws {
        let answer = await kappa.withConnectionRetrying(
            backoff: .init(first: .milliseconds(10), longest: .milliseconds(40)), logger: KappaDatabaseTests.logger,
            onFailure: { error, wait in failures.record(error, wait: wait) }
        ) { connection in
            try await connection.query("SELECT 1")[0][0].int
        }
        result.set(answer)
    }
}

final class ResultBox: Sendable {
    private let stored = Mutex<Int??>(nil)
    func set(_ value: Int?) { stored.withLock { $0 = .some(value) } }
    var value: Int?? { stored.withLock { $0 } }
}

import Synchronization
import KappaStorage
