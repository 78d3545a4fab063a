import Foundation

/// The `kappa` (or `kappa-sim`) executable run as a child process, for tests that kill it, signal it or
/// read what it prints.
public final class KappaProcess: @unchecked Sendable {
    // @unchecked: `process` is set in init and only read afterwards; Foundation's Process is thread-safe
    // for the calls made here (terminate, waitUntilExit, terminationStatus).
    public let outputFile: String
    private let process: Process

    /// The built executable next to the test bundle (`swift build --build-tests` builds it).
    public static func executable(_ name: String = "kappa") throws -> String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            bundleDirectory.appendingPathComponent(name).path,
            bundleDirectory.deletingLastPathComponent().appendingPathComponent(name).path,
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name).path,
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestEnvironmentError.missingTool("\(name) (build it first: swift build --build-tests)")
        }
        return found
    }

    /// Starts the built executable `name` with `arguments`, stdout and stderr appended to `outputFile`.
    public convenience init(_ name: String = "kappa", arguments: [String], environment: [String: String] = [:], outputFile: String) throws {
        try self.init(executablePath: Self.executable(name), arguments: arguments, environment: environment, outputFile: outputFile)
    }

    /// Starts any executable (a script, a tool) the same way, for tests that wait on it without blocking.
    public init(executablePath: String, arguments: [String], environment: [String: String] = [:], outputFile: String) throws {
        // The output file is created (truncated) as a regular file: a device path such as /dev/null would be replaced.
        precondition(!outputFile.hasPrefix("/dev/"), "KappaProcess output must be a regular file, not \(outputFile)")
        self.outputFile = outputFile
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        process.environment = merged
        _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputFile))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        // Children inherit the spawning thread's signal mask; pool threads block SIGTERM and SIGINT, and the
        // child must be able to receive them.
        var emptyMask = sigset_t()
        var callerMask = sigset_t()
        sigemptyset(&emptyMask)
        pthread_sigmask(SIG_SETMASK, &emptyMask, &callerMask)
        defer { pthread_sigmask(SIG_SETMASK, &callerMask, nil) }
        try process.run()
        try output.close()
        self.process = process
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the exit (polling, so the cooperative pool is not blocked) and returns the exit status,
    /// or nil on timeout.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    public var output: String {
        (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
    }

    /// Waits until the output contains `text`.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }
}
