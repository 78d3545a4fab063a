import Foundation
import KappaPostgres
import KappaTestSupport

/// Several `kappa run` processes sharing one mosquitto subscription (`--share-group`), one JetStream log on a
/// 3-node cluster and one PostgreSQL database: what several gateways look like to each other. Each member has
/// its own client id (its persistent session), HTTP port and data directory.
final class GatewayFleet: @unchecked Sendable {
    // @unchecked: `processes` changes only in start/kill, which the test calls from one task at a time.
    let broker: MosquittoBroker
    let postgres: PostgresServer
    let database: PostgresTestDatabase
    let cluster: NATSCluster
    let root: String
    let topicPrefix: String
    let httpPorts: [Int]
    private let name: String
    private var processes: [KappaProcess?]
    private var runs = 0

    private init(members: Int, name: String, broker: MosquittoBroker, postgres: PostgresServer, database: PostgresTestDatabase, cluster: NATSCluster, root: String) {
        self.broker = broker
        self.postgres = postgres
        self.database = database
        self.cluster = cluster
        self.root = root
        self.name = name
        topicPrefix = uniqueTopicPrefix(name)
        httpPorts = (0..<members).map { _ in LoopbackPort.free() }
        processes = Array(repeating: nil, count: members)
    }

    /// Runs `body` with fresh servers and stops them (and every member) afterwards, whether `body` throws or not.
    static func withFresh(members: Int, name: String, _ body: (GatewayFleet) async throws -> Void) async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        let broker = try await MosquittoBroker.start()
        let postgres = PostgresServer()
        let fleet = GatewayFleet(
            members: members, name: name, broker: broker, postgres: postgres, database: try await postgres.makeDatabase(prefix: name),
            cluster: cluster, root: try TemporaryDirectory.make(prefix: "kappa-e2e-\(name)")
        )
        let result: Result<Void, any Error>
        do {
            try await body(fleet)
            result = .success(())
        } catch {
            result = .failure(error)
        }
        for member in 0..<members { await fleet.kill(member) }
        broker.stop()
        await postgres.stop()
        cluster.stop()
        try result.get()
    }

    /// Starts member `member` (every role) and waits until it is up and subscribed.
    @discardableResult
    func start(_ member: Int) async throws -> KappaProcess {
        runs += 1
        let process = try KappaProcess(arguments: [
            "run",
            "--mqtt", broker.url, "--client-id", "kappa-\(name)-\(member)", "--share-group", "kappa-\(name)",
            "--data-dir", "\(root)/data-\(member)", "--topic", "\(topicPrefix)/devices/{device}/telemetry=json",
            "--database", database.conninfo, "--disk-floor-mb", "0", "--http", "127.0.0.1:\(httpPorts[member])",
            "--log", cluster.urls.joined(separator: ","), "--partitions", "4",
        ], outputFile: "\(root)/kappa-\(member)-run-\(runs).log")
        processes[member] = process
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, process.isRunning {
            if (try? await HTTPProbe.get("http://127.0.0.1:\(httpPorts[member])/healthz"))?.status == 200, process.output.contains("MQTT subscriptions confirmed") {
                return process
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestEnvironmentError.serverDidNotStart(name: "kappa run (member \(member))", log: String(process.output.suffix(3000)))
    }

    /// kill -9, as a crashed machine.
    func kill(_ member: Int) async {
        processes[member]?.signal(SIGKILL)
        _ = await processes[member]?.waitForExit()
        processes[member] = nil
    }

    func process(_ member: Int) -> KappaProcess? { processes[member] }

    func metrics(_ member: Int) async throws -> PrometheusSamples {
        let response = try await HTTPProbe.get("http://127.0.0.1:\(httpPorts[member])/metrics")
        guard response.status == 200 else {
            throw TestEnvironmentError.commandFailed(command: "GET /metrics of member \(member)", output: "status \(response.status): \(response.body)")
        }
        return PrometheusSamples(parsing: response.body)
    }

    /// The log partitions member `member`'s `processor` consumes, as its /metrics says.
    func ownedPartitions(_ member: Int, processor: String) async throws -> Set<Int> {
        Set(try await metrics(member).values("kappa_processor_owns_partition").compactMap { sample in
            sample.labels["processor"] == processor && sample.value == 1 ? sample.labels["partition"].flatMap { Int($0) } : nil
        })
    }

    /// One figure from a query that returns one row with one column.
    func scalar(_ sql: String) async throws -> Int64 {
        let connection = try await database.connect()
        do {
            let rows = try await connection.query(sql)
            await connection.close()
            guard let row = rows.first else { return 0 }
            return row[0].isNull ? 0 : try row[0].int64
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Duration, every interval: Duration = .milliseconds(200), _ condition: () async throws -> Bool) async -> Bool {
        await KappaTestSupport.eventually(timeout: timeout, every: interval, condition)
    }
}
