import Foundation

/// A `kappa run` process reached as an operator reaches it: its HTTP port for `/healthz` and `/metrics`.
/// Benchmarks start the gateway this way, so what they measure is the binary users run.
public struct RunningGateway {
    public let process: KappaProcess
    public let httpPort: Int

    /// Starts `kappa run arguments… --http 127.0.0.1:<free port>` and returns once it is healthy and has its
    /// MQTT subscriptions confirmed: the first start makes the persistent session that keeps a backlog.
    /// - Parameter executable: another build's `kappa` (nil: the one built beside the caller).
    public static func start(
        _ arguments: [String], executable: String? = nil, outputFile: String, startTimeout: Duration = .seconds(30)
    ) async throws -> RunningGateway {
        let httpPort = LoopbackPort.free()
        let process = try KappaProcess(
            executablePath: executable ?? KappaProcess.executable(),
            arguments: ["run"] + arguments + ["--http", "127.0.0.1:\(httpPort)"], outputFile: outputFile
        )
        let gateway = RunningGateway(process: process, httpPort: httpPort)
        let deadline = ContinuousClock.now + startTimeout
        while ContinuousClock.now < deadline, process.isRunning {
            if (try? await HTTPProbe.get("http://127.0.0.1:\(httpPort)/healthz"))?.status == 200,
               process.output.contains("MQTT subscriptions confirmed") { return gateway }
            try await Task.sleep(for: .milliseconds(50))
        }
        fatalError("kappa run did not start:\n\(process.output.suffix(2_000))")
    }

    public func metrics() async -> PrometheusSamples {
        guard let response = try? await HTTPProbe.get("http://127.0.0.1:\(httpPort)/metrics") else { return PrometheusSamples(parsing: "") }
        return PrometheusSamples(parsing: response.body)
    }

    public func waitUntilConnected() async {
        while await metrics().total("kappa_mqtt_connected") != 1 {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// SIGTERM, then waits for a clean exit (a backlog still being committed can take a while).
    public func stop(timeout: Duration = .seconds(60)) async {
        process.signal(SIGTERM)
        guard await process.waitForExit(timeout: timeout) == 0 else {
            fatalError("kappa did not stop cleanly:\n\(process.output.suffix(2_000))")
        }
    }
}
