import Dispatch
import Foundation
import KappaPostgres
import Logging
import Synchronization

/// A real PostgreSQL cluster for the tests: `initdb` in a temporary directory, `postgres` on a free loopback
/// port, as the `postgres` system user when the tests run as root (CI). Trust authentication on loopback;
/// `fsync=off`, since losing a test database to a power cut is fine.
///
/// ``shared`` is started once per test run by the first test that awaits ``start()``; every test then takes
/// its own database with ``makeDatabase(prefix:)``, so tests run in parallel. A test that stops the server
/// (to check reconnecting) makes its own instance with ``init()`` and leaves the shared one alone.
/// The server goes down when the test process exits: a clean fast shutdown from `atexit`, and, if the
/// process dies harder, `ChildServer`'s guardian.
///
/// Binaries: `$KAPPA_PG_BINDIR`, else the highest `/usr/lib/postgresql/<version>/bin`.
public actor PostgresServer {
    /// The cluster all tests of this run share.
    public static let shared = PostgresServer()

    /// A logger for test connections that stays quiet.
    public static let logger = Logger(label: "kappa.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    private struct Cluster: Sendable {
        let directory: String
        let binDirectory: String
        let port: Int
        let runAsUser: String?
        var dataDirectory: String { directory + "/data" }
        var logFile: String { directory + "/postgres.log" }
    }

    private var cluster: Cluster?
    private var server: ChildServer?
    private var starting: Task<Void, any Error>?
    private var databaseCount = 0

    public init() {}

    /// The loopback port; valid after ``start()``, and the same across stop and start.
    public var port: Int? { cluster?.port }

    /// A conninfo for `database` as the superuser `postgres`.
    public func conninfo(database: String = "postgres") throws -> String {
        guard let cluster else { throw TestEnvironmentError.commandFailed(command: "conninfo", output: "not started") }
        return Self.conninfo(port: cluster.port, database: database)
    }

    private static func conninfo(port: Int, database: String) -> String {
        "host=127.0.0.1 port=\(port) user=postgres dbname=\(database) connect_timeout=5"
    }

    /// Creates the cluster on first use and starts the server if it is not running; waits until it accepts
    /// connections. Safe to call from many tests at once.
    public func start() async throws {
        if server?.isRunning == true, starting == nil { return }
        if let starting {
            return try await starting.value
        }
        let task = Task { try await self.bringUp() }
        starting = task
        defer { starting = nil }
        try await task.value
    }

    /// Stops the server (fast shutdown: sessions are ended) and keeps the data directory and port for ``start()``.
    public func stop() async {
        guard let server, let cluster else { return }
        self.server = nil
        _ = try? await Self.onCleanThread { Self.shutDown(server) }
        ServerRegistry.setServer(nil, directory: cluster.directory)
    }

    /// A fresh, uniquely named database, for one test.
    public func makeDatabase(prefix: String = "test") async throws -> PostgresTestDatabase {
        try await start()
        let port = try port.unwrap()
        databaseCount += 1
        let name = "kappa_\(prefix)_\(databaseCount)"
        let admin = try await PostgresConnection.connect(Self.conninfo(port: port, database: "postgres"), logger: Self.logger)
        do {
            try await admin.execute("CREATE DATABASE \(PostgresIdentifier(name).quoted)")
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        return PostgresTestDatabase(name: name, port: port, conninfo: Self.conninfo(port: port, database: name))
    }

    /// The last lines of the server's log, for failure messages.
    public func logTail() -> String {
        server?.logTail() ?? "(not running)"
    }

    // MARK: Bringing it up

    private func bringUp() async throws {
        let cluster: Cluster
        if let existing = self.cluster {
            cluster = existing
        } else {
            cluster = try await createCluster()
            self.cluster = cluster
        }
        let arguments = [
            "-D", cluster.dataDirectory, "-p", String(cluster.port), "-k", cluster.directory,
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "log_min_messages=warning",
        ]
        let executable = cluster.binDirectory + "/postgres"
        // setpriv execs postgres in place (runuser would stay between, and not pass SIGINT on), so the
        // guardian's SIGINT reaches the postmaster: a fast shutdown that ends open sessions.
        let command = cluster.runAsUser.map { Self.asUser($0) + [executable] } ?? [executable]
        let server = try await Self.onCleanThread {
            try ChildServer(
                name: "postgres",
                executable: command[0],
                arguments: Array(command.dropFirst()) + arguments,
                stopSignal: "INT",
                logFile: cluster.logFile
            )
        }
        ServerRegistry.setServer(server, directory: cluster.directory)
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            if let connection = try? await PostgresConnection.connect(
                PostgresConfiguration(conninfo: Self.conninfo(port: cluster.port, database: "postgres"), connectTimeoutSeconds: 2),
                logger: Self.logger
            ) {
                await connection.close()
                break
            }
            guard server.isRunning, ContinuousClock.now < deadline else {
                let log = server.logTail()
                _ = try? await Self.onCleanThread { Self.shutDown(server) }
                ServerRegistry.setServer(nil, directory: cluster.directory)
                throw TestEnvironmentError.serverDidNotStart(name: "postgres", log: log)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        self.server = server
    }

    private func createCluster() async throws -> Cluster {
        let binDirectory = try Self.binDirectory()
        let runAsUser = TemporaryDirectory.runningAsRoot ? "postgres" : nil
        // As root the server runs as `postgres`, who must reach the cluster: not under a $TMPDIR in a 0700 home.
        let directory = try TemporaryDirectory.make(prefix: "kappa-postgres", in: runAsUser == nil ? NSTemporaryDirectory() : "/tmp")
        if let runAsUser {
            // postgres refuses to run as root; the cluster, socket and log live in a directory it owns.
            try await Self.run(["/bin/chown", "-R", "\(runAsUser):\(runAsUser)", directory])
        }
        var initdb = [binDirectory + "/initdb", "-D", directory + "/data", "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-locale", "--no-sync"]
        if let runAsUser { initdb = Self.asUser(runAsUser) + initdb }
        try await Self.run(initdb)
        return Cluster(directory: directory, binDirectory: binDirectory, port: LoopbackPort.free(), runAsUser: runAsUser)
    }

    private static func asUser(_ user: String) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups", "--"]
    }

    /// Runs blocking work (spawning, waiting for children) on a fresh thread whose signal mask is empty.
    ///
    /// Off the cooperative pool, because it blocks. And not on a dispatch thread: a child inherits the signal
    /// mask of the thread that spawns it, and dispatch and cooperative-pool threads block nearly every signal
    /// (SIGCHLD, SIGINT, SIGTERM…), so a guardian shell spawned from one never notices its server exit and
    /// never delivers the stop signal.
    private static func onCleanThread<Value: Sendable>(
        _ work: @escaping @Sendable () throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                var empty = sigset_t()
                sigemptyset(&empty)
                pthread_sigmask(SIG_SETMASK, &empty, nil)
                continuation.resume(with: Result { try work() })
            }
            thread.start()
        }
    }

    private static func binDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["KAPPA_PG_BINDIR"], !configured.isEmpty {
            return configured
        }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let best = versions.compactMap { Int($0) }.sorted().last { version in
            FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/postgres")
        }
        guard let best else {
            throw TestEnvironmentError.missingTool("PostgreSQL server binaries (/usr/lib/postgresql/*/bin or $KAPPA_PG_BINDIR)")
        }
        return "\(root)/\(best)/bin"
    }

    /// Runs a short command to completion without blocking a cooperative thread.
    private static func run(_ command: [String]) async throws {
        let (status, text) = try await onCleanThread { try runToCompletion(command[0], Array(command.dropFirst())) }
        guard status == 0 else {
            throw TestEnvironmentError.commandFailed(command: command.joined(separator: " "), output: text)
        }
    }

    /// Fast shutdown (the guardian sends SIGINT), waiting until the server is gone.
    fileprivate static func shutDown(_ server: ChildServer) {
        server.stop()
    }
}

/// One test's database on a ``PostgresServer``.
public struct PostgresTestDatabase: Sendable {
    public let name: String
    public let port: Int
    /// `host=127.0.0.1 port=… user=postgres dbname=…`.
    public let conninfo: String

    /// A new connection to this database.
    public func connect(applicationName: String = "kappa-test") async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            PostgresConfiguration(conninfo: conninfo, applicationName: applicationName),
            logger: PostgresServer.logger
        )
    }
}

/// The clusters to shut down and delete when the test process exits.
private enum ServerRegistry {
    private struct Entry: Sendable {
        let directory: String
        var server: ChildServer?
    }

    private static let entries = Mutex<[Entry]>([])
    private static let registerAtExit: Void = {
        atexit {
            let entries = ServerRegistry.entries.withLock { entries in
                defer { entries.removeAll() }
                return entries
            }
            for entry in entries {
                if let server = entry.server {
                    PostgresServer.shutDown(server)
                }
                try? FileManager.default.removeItem(atPath: entry.directory)
            }
        }
    }()

    /// Records the server now running in the cluster at `directory` (nil once it is stopped).
    static func setServer(_ server: ChildServer?, directory: String) {
        _ = registerAtExit
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.directory == directory }) {
                entries[index].server = server
            } else {
                entries.append(Entry(directory: directory, server: server))
            }
        }
    }
}

extension Optional {
    fileprivate func unwrap() throws -> Wrapped {
        guard let self else { throw TestEnvironmentError.commandFailed(command: "postgres", output: "not started") }
        return self
    }
}
