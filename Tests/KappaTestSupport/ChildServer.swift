import Foundation

/// A server process (mosquitto, postgres) owned by the test run.
///
/// The server runs under a small `sh` guardian that holds our end of a pipe on its standard input: when the
/// pipe closes, because `stop()` closed it or because the test process died in any way (even SIGKILL), the
/// guardian sends the server `stopSignal` and waits for it. So no test run leaves servers behind.
public final class ChildServer: @unchecked Sendable {
    // @unchecked: `process` and `lifeline` are set once in init; `stop()` is serialised by `lock`.
    public let name: String
    public let logFile: String
    private let process: Process
    private let lifeline: Pipe
    private let lock = NSLock()
    private var stopped = false

    /// Starts `executable arguments…` (optionally as another user, via runuser) with output to `logFile`.
    public init(
        name: String,
        executable: String,
        arguments: [String],
        runAsUser: String? = nil,
        stopSignal: String = "TERM",
        logFile: String
    ) throws {
        self.name = name
        self.logFile = logFile
        var command = [executable] + arguments
        if let runAsUser {
            command = ["runuser", "-u", runAsUser, "--"] + command
        }
        // The watcher reads the lifeline through fd 3: a background job's own stdin is /dev/null in a
        // non-interactive shell, which would make `cat` return (and stop the server) at once. The signal is
        // repeated until the server is gone: one sent while it is still starting may find it not listening.
        let guardian = """
        exec 3<&0
        "$@" </dev/null >>"$KAPPA_CHILD_LOG" 2>&1 &
        child=$!
        ( cat <&3 >/dev/null; while kill -\(stopSignal) "$child" 2>/dev/null; do sleep 1; done ) &
        exec 3<&-
        wait "$child"
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", guardian, "guardian"] + command
        var environment = ProcessInfo.processInfo.environment
        environment["KAPPA_CHILD_LOG"] = logFile
        process.environment = environment
        let lifeline = Pipe()
        process.standardInput = lifeline
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        // Our end of the lifeline must not leak into other children (this guardian included): any copy
        // left open keeps the pipe from closing when we stop or die.
        _ = fcntl(lifeline.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        // Children inherit the spawning thread's signal mask, and dispatch and cooperative-pool threads block
        // nearly all signals: the guardian would never see SIGCHLD (`wait` hangs) and the server would ignore
        // its stop signal. So spawn with an empty mask.
        var emptyMask = sigset_t()
        var callerMask = sigset_t()
        sigemptyset(&emptyMask)
        pthread_sigmask(SIG_SETMASK, &emptyMask, &callerMask)
        defer { pthread_sigmask(SIG_SETMASK, &callerMask, nil) }
        try process.run()
        self.process = process
        self.lifeline = lifeline
    }

    public var isRunning: Bool { process.isRunning }

    /// Stops the server and waits for it to exit.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        try? lifeline.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// The last lines of the server's log, for failure messages.
    public func logTail(lines: Int = 30) -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    deinit {
        stop()
    }
}

public enum TestEnvironmentError: Error, CustomStringConvertible {
    case missingTool(String)
    case serverDidNotStart(name: String, log: String)
    case commandFailed(command: String, output: String)

    public var description: String {
        switch self {
        case .missingTool(let tool):
            return "\(tool) was not found; run .ci/run or install it (see README)"
        case .serverDidNotStart(let name, let log):
            return "\(name) did not start; last lines of its log:\n\(log)"
        case .commandFailed(let command, let output):
            return "\(command) failed:\n\(output)"
        }
    }
}
