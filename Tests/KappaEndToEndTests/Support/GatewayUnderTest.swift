import Foundation
import KappaCore
import KappaLog
import KappaPostgres
import KappaTestSupport
import Logging
import Testing

/// A private mosquitto and PostgreSQL (each can be stopped), a database, a log directory, and `kappa run`
/// with every role between them, its HTTP endpoints on a free loopback port.
final class GatewayUnderTest: @unchecked Sendable {
    // @unchecked: `gateway` is replaced only by `start()`, which the test calls from one task at a time.
    let broker: MosquittoBroker
    let postgres: PostgresServer
    let database: PostgresTestDatabase
    let root: String
    let topicPrefix: String
    let httpPort: Int
    private let clientID: String
    private var runs = 0
    private(set) var gateway: KappaProcess?

    var dataDirectory: String { "\(root)/data" }
    var baseURL: String { "http://127.0.0.1:\(httpPort)" }

    private init(broker: MosquittoBroker, postgres: PostgresServer, database: PostgresTestDatabase, root: String, name: String) {
        self.broker = broker
        self.postgres = postgres
        self.database = database
        self.root = root
        self.topicPrefix = uniqueTopicPrefix(name)
        self.httpPort = LoopbackPort.free()
        self.clientID = "kappa-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }

    private static func make(name: String) async throws -> GatewayUnderTest {
        let broker = try await MosquittoBroker.start()
        let postgres = PostgresServer()
        let database = try await postgres.makeDatabase(prefix: name)
        let root = try TemporaryDirectory.make(prefix: "kappa-e2e-\(name)")
        return GatewayUnderTest(broker: broker, postgres: postgres, database: database, root: root, name: name)
    }

    /// Runs `body` with fresh servers and stops them (and any gateway) afterwards, whether `body` throws or not.
    static func withFresh(name: String, _ body: (GatewayUnderTest) async throws -> Void) async throws {
        let gateway = try await make(name: name)
        let result: Result<Void, any Error>
        do {
            try await body(gateway)
            result = .success(())
        } catch {
            result = .failure(error)
        }
        await gateway.stop()
        try result.get()
    }

    /// Starts `kappa run` (all roles, plus `extraArguments`) and waits until /healthz answers.
    @discardableResult
    func start(extraArguments: [String] = []) async throws -> KappaProcess {
        let process = try launch(extraArguments: extraArguments)
        let deadline = ContinuousClock.now + .seconds(30)
        // Up, and subscribed: messages published to a new session before its SUBACK reach nobody.
        while ContinuousClock.now < deadline, process.isRunning {
            if (try? await HTTPProbe.get("\(baseURL)/healthz"))?.status == 200, process.output.contains("MQTT subscriptions confirmed") {
                return process
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestEnvironmentError.serverDidNotStart(name: "kappa run", log: String(process.output.suffix(3000)))
    }

    /// Starts `kappa run` without waiting for anything; its output goes to `kappa-run-<n>.log`.
    func launch(extraArguments: [String] = []) throws -> KappaProcess {
        runs += 1
        let process = try KappaProcess(arguments: [
            "run",
            "--mqtt", broker.url, "--client-id", clientID, "--data-dir", dataDirectory,
            "--topic", "\(topicPrefix)/devices/{device}/telemetry=json",
            "--database", database.conninfo,
            "--disk-floor-mb", "0", "--http", "127.0.0.1:\(httpPort)",
        ] + extraArguments, outputFile: "\(root)/kappa-run-\(runs).log")
        gateway = process
        return process
    }

    func stop() async {
        gateway?.signal(SIGKILL)
        _ = await gateway?.waitForExit()
        broker.stop()
        await postgres.stop()
    }

    /// Samples of `/metrics`.
    func metrics() async throws -> PrometheusSamples {
        let response = try await HTTPProbe.get("\(baseURL)/metrics")
        guard response.status == 200 else {
            throw TestEnvironmentError.commandFailed(command: "GET /metrics", output: "status \(response.status): \(response.body)")
        }
        return PrometheusSamples(parsing: response.body)
    }

    func readinessStatus() async -> Int? {
        try? await HTTPProbe.get("\(baseURL)/readyz").status
    }

    /// Runs `body` with a fresh connection to the test database.
    func withDatabase<Value: Sendable>(_ body: (PostgresConnection) async throws -> Value) async throws -> Value {
        let connection = try await database.connect()
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }

    /// One figure from a query that returns one row with one column.
    func scalar(_ sql: String) async throws -> Int64 {
        try await withDatabase { connection in
            let rows = try await connection.query(sql)
            guard let row = rows.first else { return 0 }
            return row[0].isNull ? 0 : try row[0].int64
        }
    }

    /// The log's high watermark per stream and partition (open only while no gateway runs).
    func logHighWatermarks() throws -> [String: [Int64]] {
        let log = try DiskLog(directory: dataDirectory, logger: Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { log.close() }
        var watermarks: [String: [Int64]] = [:]
        for name in [KappaStreams.readings, KappaStreams.deadLetters] {
            let stream = try log.openStream(named: name)
            watermarks[name] = (0..<stream.partitionCount).map { stream.offsets(partition: $0).highWatermark }
        }
        return watermarks
    }

    /// The committed next offset per processor, stream and partition.
    func committedOffsets() async throws -> [String: [String: [Int: Int64]]] {
        try await withDatabase { connection in
            let rows = try await connection.query("SELECT processor, stream, partition, next_offset FROM kappa.processor_offsets")
            var offsets: [String: [String: [Int: Int64]]] = [:]
            for row in rows {
                offsets[try row["processor"].string, default: [:]][try row["stream"].string, default: [:]][try row["partition"].int] = try row["next_offset"].int64
            }
            return offsets
        }
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Duration, every interval: Duration = .milliseconds(200), _ condition: () async throws -> Bool) async -> Bool {
        await KappaTestSupport.eventually(timeout: timeout, every: interval, condition)
    }

    /// Every processor's committed offsets equal the log's high watermarks: no lag left after shutdown.
    func expectFullyCommitted() async throws {
        let watermarks = try logHighWatermarks()
        let committed = try await committedOffsets()
        let streamOfProcessor = [
            "rollups": KappaStreams.readings, "devices": KappaStreams.readings, "archive": KappaStreams.readings,
            "dead-letters": KappaStreams.deadLetters,
        ]
        for (processor, stream) in streamOfProcessor {
            let ends = try #require(watermarks[stream])
            let offsets = committed[processor]?[stream] ?? [:]
            for (partition, end) in ends.enumerated() {
                #expect(offsets[partition, default: 0] == end, "\(processor) partition \(partition): committed \(offsets[partition, default: 0]) of \(end)")
            }
        }
    }
}
