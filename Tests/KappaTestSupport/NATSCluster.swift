import Foundation

/// Real `nats-server` processes with JetStream: a cluster of 3 (or a single node) on free loopback ports,
/// each storing in its own temporary directory.
///
/// Tests kill a node with SIGKILL (`kill(node:)`) and start it again on the same ports and storage
/// (`restart(node:)`), which is what a crashed machine coming back looks like to the other two.
///
/// With `tls`, clients must speak TLS to every node; the harness then watches readiness through each node's
/// HTTP monitoring port (`/healthz`), since its own probes speak the plain text protocol.
public final class NATSCluster: @unchecked Sendable {
    // @unchecked: `servers` changes only under `lock`; everything else is set once in init.
    public let clientPorts: [Int]
    public let routePorts: [Int]
    public let directory: String
    private let executable: String
    /// What clients must present, when the servers require it.
    public let authorization: Authorization?
    /// The certificates the servers present and trust, when clients must use TLS.
    public let tls: TLS?
    /// HTTP monitoring ports, only when `tls` is set (empty otherwise).
    public let monitorPorts: [Int]
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

    /// Client connections over TLS: the servers present `certificates.serverCertificate` (for 127.0.0.1 and
    /// localhost, signed by `certificates.caCertificate`), and with `verifiesClients` they also require a
    /// client certificate signed by that CA (mutual TLS).
    public struct TLS: Sendable {
        public var certificates: TestCertificates
        public var verifiesClients: Bool

        public init(certificates: TestCertificates, verifiesClients: Bool = false) {
            self.certificates = certificates
            self.verifiesClients = verifiesClients
        }

        var configuration: String {
            """
            tls {
              cert_file: "\(certificates.serverCertificate)"
              key_file: "\(certificates.serverKey)"
              ca_file: "\(certificates.caCertificate)"
              verify: \(verifiesClients)
              timeout: 5
            }
            """
        }
    }

    private init(nodes: Int, directory: String, executable: String, authorization: Authorization?, tls: TLS?) {
        self.authorization = authorization
        self.tls = tls
        clientPorts = (0..<nodes).map { _ in LoopbackPort.free() }
        monitorPorts = tls == nil ? [] : (0..<nodes).map { _ in LoopbackPort.free() }
        routePorts = nodes > 1 ? (0..<nodes).map { _ in LoopbackPort.free() } : []
        self.directory = directory
        self.executable = executable
        servers = Array(repeating: nil, count: nodes)
    }

    /// Starts `nodes` servers (1 or 3) and waits until JetStream answers on every one of them; a cluster is
    /// ready when its nodes have elected a JetStream meta leader, which `waitUntilReady` checks.
    public static func start(nodes: Int = 3, authorization: Authorization? = nil, tls: TLS? = nil) async throws -> NATSCluster {
        precondition(nodes == 1 || nodes == 3, "a single node or a cluster of three")
        guard let executable = ["/usr/bin/nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw TestEnvironmentError.missingTool("nats-server") }
        let cluster = NATSCluster(nodes: nodes, directory: try TemporaryDirectory.make(prefix: "kappa-nats"), executable: executable, authorization: authorization, tls: tls)
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
            monitorPorts.isEmpty ? "http: 0" : "http: 127.0.0.1:\(monitorPorts[node])",
            "pid_file: \"\(pidFile(node))\"",
            "jetstream {",
            "  store_dir: \"\(nodeDirectory(node))/jetstream\"",
            "  max_memory_store: 64MB",
            "  max_file_store: 1GB",
            "}",
        ]
        if let authorization { lines.append(authorization.configuration) }
        if let tls { lines.append(tls.configuration) }
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
        if tls != nil {
            try await waitUntilHealthy(deadline: deadline)
            return
        }
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

    /// Waits until every running node's `/healthz` says ok: JetStream is enabled and, in a cluster, the node is
    /// current with a meta leader.
    private func waitUntilHealthy(deadline: ContinuousClock.Instant) async throws {
        for node in monitorPorts.indices where isRunning(node: node) {
            while (try? await HTTPProbe.get("http://127.0.0.1:\(monitorPorts[node])/healthz"))?.status != 200 {
                guard ContinuousClock.now < deadline else {
                    throw TestEnvironmentError.serverDidNotStart(name: "JetStream on nats-server \(node)", log: logTail(node: node))
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// The node that leads the JetStream stream `name` (nil when it has none right now, or it does not exist),
    /// asked of any running node; the harness names its nodes `kappa-<node>`. Not for TLS clusters.
    public func leader(ofStream name: String) -> Int? {
        for node in clientPorts.indices where isRunning(node: node) {
            guard let answer = Self.jetStreamRequest(port: clientPorts[node], subject: "$JS.API.STREAM.INFO.\(name)", payload: "",
                                                     response: "io.nats.jetstream.api.v1.stream_info_response", authorization: authorization),
                  let object = try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]
            else { continue }
            guard object["error"] == nil, let cluster = object["cluster"] as? [String: Any] else { return nil }
            guard let leader = cluster["leader"] as? String, leader.hasPrefix("kappa-") else { return nil }
            return Int(leader.dropFirst("kappa-".count))
        }
        return nil
    }

    /// The node that leads the most of `streams` right now, and which of them it leads; nil when none has a
    /// leader. Killing it takes leaders away from partitions that are being appended to.
    public func nodeLeadingMost(of streams: [String]) -> (node: Int, streams: [String])? {
        var led: [Int: [String]] = [:]
        for stream in streams {
            if let node = leader(ofStream: stream) { led[node, default: []].append(stream) }
        }
        return led.max { $0.value.count < $1.value.count || ($0.value.count == $1.value.count && $0.key > $1.key) }
            .map { ($0.key, $0.value) }
    }

    /// One JetStream API request over a plain socket; true when its answer of type `response` holds no error.
    private static func jetStreamRequestSucceeds(port: Int, subject: String, payload: String, response: String, authorization: Authorization?) -> Bool {
        guard let answer = jetStreamRequest(port: port, subject: subject, payload: payload, response: response, authorization: authorization) else { return false }
        return !answer.contains("\"error\"")
    }

    /// One JetStream API request over a plain socket: the JSON answer of type `response`, or nil when none came.
    private static func jetStreamRequest(port: Int, subject: String, payload: String, response: String, authorization: Authorization?) -> String? {
        guard let fd = LoopbackPort.connectedSocket(port) else { return nil }
        defer { close(fd) }
        let request = "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true\(authorization?.connectFields ?? "")}\r\nSUB _probe.reply 1\r\nPUB \(subject) _probe.reply \(payload.utf8.count)\r\n\(payload)\r\nPING\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var received = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            received += String(decoding: buffer[0..<count], as: UTF8.self)
            if let range = received.range(of: response) {
                // The JSON may arrive in pieces: wait for its end (the line's) before taking it.
                // (A String counts "\r\n" as one character: find the brace rather than count past the line end.)
                guard let end = received[range.upperBound...].range(of: "\r\n"),
                      let line = received[..<range.lowerBound].range(of: "\r\n{", options: .backwards),
                      let start = received[line.lowerBound...].firstIndex(of: "{")
                else { continue }
                return String(received[start..<end.lowerBound])
            }
            if received.contains("NATS/1.0 503") { return nil }
        }
        return nil
    }

    /// Whether JetStream answers on `node` now (it is running and its cluster has a meta leader). Not for TLS clusters.
    public func jetStreamAnswers(node: Int) -> Bool {
        isRunning(node: node) && Self.jetStreamAnswers(port: clientPorts[node], authorization: authorization)
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
