import Foundation

/// A real mosquitto broker on a free loopback port, configured in a temporary directory.
///
/// `MosquittoBroker.shared` is started once per test run and shared by tests that only publish and subscribe
/// (each under its own topic prefix, see `uniqueTopicPrefix`). Tests that stop or restart a broker make their
/// own with `MosquittoBroker.start()`, which takes milliseconds.
public final class MosquittoBroker: @unchecked Sendable {
    // @unchecked: `server` changes only in stop/start, which take `lock`.
    public let port: Int
    public let directory: String
    public let options: Options
    private let lock = NSLock()
    private var server: ChildServer?

    public struct Options: Sendable {
        /// username → password; when set, anonymous clients are refused.
        public var users: [String: String]
        /// PEM files for a TLS listener (the port then speaks only TLS).
        public var tls: (certificate: String, key: String)?
        /// With `tls`: clients must present a certificate signed by this CA.
        public var requireClientCertificateFrom: String?
        /// An ACL file (mosquitto's format) copied in; nil allows every topic.
        public var aclFile: String?
        public var maxQueuedMessages: Int

        public init(
            users: [String: String] = [:], tls: (certificate: String, key: String)? = nil,
            requireClientCertificateFrom: String? = nil, aclFile: String? = nil, maxQueuedMessages: Int = 0
        ) {
            self.users = users
            self.tls = tls
            self.requireClientCertificateFrom = requireClientCertificateFrom
            self.aclFile = aclFile
            self.maxQueuedMessages = maxQueuedMessages
        }
    }

    private static let sharedStart = Task { try await MosquittoBroker.start() }

    /// The broker of this test run, started on first use.
    public static var shared: MosquittoBroker {
        get async throws { try await sharedStart.value }
    }

    public var url: String { "mqtt://127.0.0.1:\(port)" }

    private init(port: Int, directory: String, options: Options) {
        self.port = port
        self.directory = directory
        self.options = options
    }

    /// Starts a new broker of its own (for tests that stop or restart it).
    public static func start(options: Options = Options()) async throws -> MosquittoBroker {
        guard let executable = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw TestEnvironmentError.missingTool("mosquitto") }
        let directory = try TemporaryDirectory.make(prefix: "kappa-mosquitto")
        let broker = MosquittoBroker(port: LoopbackPort.free(), directory: directory, options: options)
        try broker.writeConfiguration()
        try await broker.launch(executable: executable)
        return broker
    }

    private func writeConfiguration() throws {
        var lines = [
            "listener \(port) 127.0.0.1",
            "persistence true",
            "persistence_location \(directory)/",
            "autosave_interval 1",
            "max_queued_messages \(options.maxQueuedMessages)",
            "max_inflight_messages 1000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if TemporaryDirectory.runningAsRoot {
            // Run as root, mosquitto would switch to the 'mosquitto' user and lose access to our temp directory.
            lines.append("user root")
        }
        if options.users.isEmpty {
            lines.append("allow_anonymous true")
        } else {
            let passwordFile = "\(directory)/passwords"
            _ = FileManager.default.createFile(atPath: passwordFile, contents: nil)
            for (user, password) in options.users {
                try run("/usr/bin/mosquitto_passwd", ["-b", passwordFile, user, password])
            }
            lines += ["allow_anonymous false", "password_file \(passwordFile)"]
        }
        if let tls = options.tls {
            lines += ["certfile \(tls.certificate)", "keyfile \(tls.key)"]
            if let clientCA = options.requireClientCertificateFrom {
                lines += ["cafile \(clientCA)", "require_certificate true"]
            }
        }
        if let aclFile = options.aclFile {
            let copy = "\(directory)/acl"
            try String(contentsOfFile: aclFile, encoding: .utf8).write(toFile: copy, atomically: true, encoding: .utf8)
            lines.append("acl_file \(copy)")
        }
        try lines.joined(separator: "\n").appending("\n")
            .write(toFile: "\(directory)/mosquitto.conf", atomically: true, encoding: .utf8)
    }

    private func launch(executable: String) async throws {
        let server = try ChildServer(
            name: "mosquitto",
            executable: executable,
            arguments: ["-c", "\(directory)/mosquitto.conf"],
            logFile: "\(directory)/mosquitto.log"
        )
        lock.withLock { self.server = server }
        guard await LoopbackPort.waitUntilAccepting(port, timeout: .seconds(10)) else {
            server.stop()
            throw TestEnvironmentError.serverDidNotStart(name: "mosquitto", log: server.logTail())
        }
    }

    /// Stops the broker (it saves its persistent sessions first), paused or not.
    public func stop() {
        resume()
        let server = lock.withLock { () -> ChildServer? in
            defer { self.server = nil }
            return self.server
        }
        server?.stop()
    }

    /// Freezes the broker (SIGSTOP) until ``resume()``: the kernel still accepts connections, but nothing is
    /// answered or sent. For tests that must have a client ready before the broker delivers a backlog.
    public func pause() { signalServer(SIGSTOP) }

    /// Lets a paused broker run on (SIGCONT).
    public func resume() { signalServer(SIGCONT) }

    /// The server runs under a guardian shell, so its pid is found by its command line: the executable with this
    /// broker's own configuration file.
    private func signalServer(_ signal: Int32) {
        let configuration = "\(directory)/mosquitto.conf"
        for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap({ Int32($0) }) ?? [] {
            guard let command = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { continue }
            let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first?.hasSuffix("mosquitto") == true, arguments.contains(configuration) { kill(pid, signal) }
        }
    }

    /// Starts the broker again on the same port, with the same configuration and persistence.
    public func restart() async throws {
        stop()
        guard let executable = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestEnvironmentError.missingTool("mosquitto")
        }
        try await launch(executable: executable)
    }

    public func logTail() -> String {
        lock.withLock { server?.logTail() } ?? "(stopped)"
    }

    deinit {
        stop()
    }
}

/// A topic prefix no other test uses, so tests can share a broker.
public func uniqueTopicPrefix(_ name: String = "test") -> String {
    "kappa-test/\(name)/\(UInt64.random(in: 0...UInt64.max))"
}

/// Runs a command to completion and throws with its output if it fails. The child starts with an empty
/// signal mask: a pool thread's blocked signals (SIGALRM, SIGTERM…) would otherwise be inherited.
public func run(_ executable: String, _ arguments: [String], allowFailure: Bool = false, discardOutput: Bool = false) throws {
    var emptyMask = sigset_t()
    var callerMask = sigset_t()
    sigemptyset(&emptyMask)
    pthread_sigmask(SIG_SETMASK, &emptyMask, &callerMask)
    let (status, output) = try {
        defer { pthread_sigmask(SIG_SETMASK, &callerMask, nil) }
        return try runToCompletion(executable, arguments)
    }()
    guard allowFailure || status == 0 else {
        throw TestEnvironmentError.commandFailed(
            command: ([executable] + arguments).joined(separator: " "),
            output: discardOutput ? "" : output
        )
    }
}
