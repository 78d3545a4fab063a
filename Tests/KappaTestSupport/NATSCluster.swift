import Foundation

/// Real `nats-server` processes with JetStream: a cluster of 3 (or a single node) on free loopback ports,
/// each storing in its own temporary directory.
///
/// Tests kill a node with SIGKILL (`kill(node:)`) and start it again on the same ports and storage
/// (`restart(node:)`), which is what a crashed machine coming back looks like to the other two.
public final class NATSCluster: @unchecked Sendable {
    // @unchecked: `servers` changes only under `lock`; everything else is set once in init.
    public let clientPorts: [Int]
    public let routePorts: [Int]
    public let directory: String
    private let executable: String
    /// What clients must present, when the servers require it.
    public let authorization: Authorization?
    private let lock = NSLock()
    private var servers: [ChildServer?]

    /// `nats://127.0.0.1:port` of every node, for the client's server list.
    public var urls: [String] { clientPorts.map { "nats://127.0.0.1:\($0)" } }

    /// Client authentication the servers require: a user and password, or a token.
    public enum Authorization: Sendable {
        case user(String, password: String)
        case token(String)

        var configuration: String {
            switch self {
            case .user(let user, let password): "authorization { user: \"\(user)\", password: \"\(password)\" }"
            case .token(let token): "authorization { token: \"\(token)\" }"
            }
        }

        /// The fields of the text protocol's CONNECT that present it.
        var connectFields: String {
            switch self {
            case .user(let user, let password): #","user":"\#(user)","pass":"\#(password)""#
            case .token(let token): #","auth_token":"\#(token)""#
            }
        }
    }

    private init(nodes: Int, directory: String, executable: String, authorization: Authorization?) {
        self.authorization = authorization
        clientPorts = (0..<nodes).map { _ in LoopbackPort.free() }
        routePorts = nodes > 1 ? (0..<nodes).map { _ in LoopbackPort.free() } : []
        self.directory = directory
        self.executable = executable
        servers = Array(repeating: nil, count: nodes)
    }

    /// Starts `nodes` servers (1 or 3) and waits until JetStream answers on every one of them; a cluster is
    /// ready when its nodes have elected a JetStream meta leader, which `waitUntilReady` checks.
    public static func start(nodes: Int = 3, authorization: Authorization? = nil) async throws -> NATSCluster {
        precondition(nodes == 1 || nodes == 3, "a single node or a cluster of three")
        guard let executable = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw TestEnvironmentError.missingTool("nats-server") }
        let cluster = NATSCluster(nodes: nodes, directory: try TemporaryDirectory.make(prefix: "kappa-nats"), executable: executable, authorization: authorization)
        for node in 0..<nodes {
            try cluster.writeConfiguration(node: node)
            try cluster.launch(node: node)
        }
        for node in 0..<nodes {
            guard await LoopbackPort.waitUntilAccepting(cluster.clientPorts[node], timeout: .seconds(15)) else {
                let log = cluster.logTail(node: node)
                cluster.stop()
                throw TestEnvironmentError.serverDidNotStart(name: "nats-server \(node)", log: log)
            }
        }
        try await cluster.waitUntilReady()
        return cluster
    }

    private func nodeDirectory(_ node: Int) -> String { "\(directory)/node-\(node)" }
    private func pidFile(_ node: Int) -> String { "\(nodeDirectory(node))/nats-server.pid" }

    private func writeConfiguration(node: Int) throws {
        try FileManager.default.createDirectory(atPath: "\(nodeDirectory(node))/jetstream", withIntermediateDirectories: true)
        var lines = [
            "server_name: kappa-\(node)",
            "listen: 127.0.0.1:\(clientPorts[node])",
            "http: 0",
            "pid_file: \"\(pidFile(node))\"",
            "jetstream {",
            "  store_dir: \"\(nodeDirectory(node))/jetstream\"",
            "  max_memory_store: 64MB",
            "  max_file_store: 1GB",
            "}",
        ]
        if let authorization { lines.append(authorization.configuration) }
        if clientPorts.count > 1 {
            let routes = routePorts.enumerated().filter { $0.offset != node }.map { "nats-route://127.0.0.1:\($0.element)" }
            lines += [
                "cluster {",
                "  name: kappa-test",
                "  listen: 127.0.0.1:\(routePorts[node])",
                "  routes: [\(routes.map { "\"\($0)\"" }.joined(separator: ", "))]",
                "}",
            ]
        }
        try lines.joined(separator: "\n").appending("\n")
            .write(toFile: "\(nodeDirectory(node))/nats.conf", atomically: true, encoding: .utf8)
    }

    private func launch(node: Int) throws {
        let server = try ChildServer(
            name: "nats-server \(node)",
            executable: executable,
            arguments: ["-c", "\(nodeDirectory(node))/nats.conf"],
            logFile: "\(nodeDirectory(node))/nats.log"
        )
        lock.withLock { servers[node] = server }
    }

    /// Waits until every running node answers a JetStream account request (it has a meta leader), then,
    /// when every node runs, until the cluster can place a stream on all of them: a meta leader that has
    /// not heard from every peer yet refuses replicated streams ("no suitable peers for placement").
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        for node in clientPorts.indices where isRunning(node: node) {
            while !Self.jetStreamAnswers(port: clientPorts[node], authorization: authorization) {
                guard ContinuousClock.now < deadline else {
                    throw TestEnvironmentError.serverDidNotStart(name: "JetStream on nats-server \(node)", log: logTail(node: node))
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        guard clientPorts.indices.allSatisfy({ isRunning(node: $0) }) else { return }
        let probe = "HARNESS_PROBE_\(UInt32.random(in: 0...UInt32.max))"
        let configuration = #"{"name":"\#(probe)","subjects":["_harness.\#(probe)"],"storage":"file","num_replicas":\#(clientPorts.count)}"#
        while !Self.jetStreamRequestSucceeds(port: clientPorts[0], subject: "$JS.API.STREAM.CREATE.\(probe)", payload: configuration,
                                             response: "io.nats.jetstream.api.v1.stream_create_response", authorization: authorization) {
            guard ContinuousClock.now < deadline else {
                throw TestEnvironmentError.serverDidNotStart(name: "JetStream placement on \(clientPorts.count) nodes", log: logTail(node: 0))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        _ = Self.jetStreamRequestSucceeds(port: clientPorts[0], subject: "$JS.API.STREAM.DELETE.\(probe)", payload: "",
                                          response: "io.nats.jetstream.api.v1.stream_delete_response", authorization: authorization)
    }

    /// One JetStream API request over a plain socket; true when its answer of type `response` holds no error.
    private static func jetStreamRequestSucceeds(port: Int, subject: String, payload: String, response: String, authorization: Authorization?) -> Bool {
        guard let fd = LoopbackPort.connectedSocket(port) else { return false }
        defer { close(fd) }
        let request = "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true\(authorization?.connectFields ?? "")}\r\nSUB _probe.reply 1\r\nPUB \(subject) _probe.reply \(payload.utf8.count)\r\n\(payload)\r\nPING\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var received = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return false }
            received += String(decoding: buffer[0..<count], as: UTF8.self)
            if let range = received.range(of: response) {
                // The JSON may arrive in pieces: wait for its end before looking for an error.
                guard received[range.upperBound...].contains("\r\n") else { continue }
                return !received.contains("\"error\"")
            }
            if received.contains("NATS/1.0 503") { return false }
        }
        return false
    }

    /// Sends `$JS.API.INFO` over a plain socket (the NATS text protocol) and looks for an answer that is not
    /// an error: the account info only comes once the cluster has a JetStream meta leader.
    private static func jetStreamAnswers(port: Int, authorization: Authorization?) -> Bool {
        jetStreamRequestSucceeds(port: port, subject: "$JS.API.INFO", payload: "", response: "io.nats.jetstream.api.v1.account_info_response", authorization: authorization)
    }

    /// CPU time (user + system) a running node has used so far, from /proc; nil when it is not running.
    public func cpuSeconds(node: Int) -> Double? {
        guard isRunning(node: node),
              let pid = (try? String(contentsOfFile: pidFile(node), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.range(of: ") ")
        else { return nil }
        // Fields after the command name: state is field 3, utime 14 and stime 15 (in clock ticks).
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public func isRunning(node: Int) -> Bool {
        lock.withLock { servers[node]?.isRunning ?? false }
    }

    /// Kills one node with SIGKILL: no shutdown, no flush, its sockets simply vanish.
    public func kill(node: Int) throws {
        let text = try String(contentsOfFile: pidFile(node), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = pid_t(text) else { throw TestEnvironmentError.commandFailed(command: "read \(pidFile(node))", output: text) }
        Foundation.kill(pid, SIGKILL)
        let server = lock.withLock { () -> ChildServer? in
            defer { servers[node] = nil }
            return servers[node]
        }
        // The guardian's own stop finds the server gone and just reaps it.
        server?.stop()
    }

    /// Starts a killed or stopped node again with the same ports and storage, and waits until it answers.
    public func restart(node: Int) async throws {
        stop(node: node)
        try launch(node: node)
        guard await LoopbackPort.waitUntilAccepting(clientPorts[node], timeout: .seconds(15)) else {
            throw TestEnvironmentError.serverDidNotStart(name: "nats-server \(node)", log: logTail(node: node))
        }
        try await waitUntilReady()
    }

    /// Stops one node gracefully.
    public func stop(node: Int) {
        let server = lock.withLock { () -> ChildServer? in
            defer { servers[node] = nil }
            return servers[node]
        }
        server?.stop()
    }

    /// Stops every node and removes the storage.
    public func stop() {
        for node in clientPorts.indices { stop(node: node) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    public func logTail(node: Int, lines: Int = 30) -> String {
        lock.withLock { servers[node]?.logTail(lines: lines) } ?? "(node \(node) not running)"
    }

    deinit {
        stop()
    }
}
