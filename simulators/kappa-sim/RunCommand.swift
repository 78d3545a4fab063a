import Dispatch
import Foundation
import KappaSimulator
import Logging

/// What the fleet and the replay share once their source is built: connect, run, report.
enum RunCommand {
    static func execute<Source: MessageSource>(
        source: Source, options: ConnectionOptions, pacing: Pacing, limit: Int?, labelsPath: String?, dropEvery: Int? = nil
    ) async throws {
        var logger = Logger(label: "kappa-sim")
        // Reconnection attempts are logged at warning by the MQTT client; the run reports what matters itself.
        logger.logLevel = .error
        let statistics = RunStatistics()
        let publishOptions = try options.publishOptions(dropEvery: dropEvery)
        let publisher = MQTTFleetPublisher(options: publishOptions, statistics: statistics, logger: logger)
        let labels = try labelsPath.map { try LabelFileWriter(path: $0) }
        try await publisher.connect()

        let stop = StopFlag()
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        interrupt.setEventHandler { stop.stop() }
        interrupt.resume()
        defer { interrupt.cancel() }

        let progress = options.quiet ? nil : ProgressReporter(statistics: statistics) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        let started = ContinuousClock.now
        var run = SimulationRun(source: source, pacing: pacing, limit: limit, batchSize: publishOptions.window * publishOptions.connections)
        try await run.run(publisher: publisher, labels: labels, stop: stop)
        progress?.stop()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(statistics.summary(seconds: seconds))
        if let labelsPath { print("labels         \(labelsPath)") }
    }
}
