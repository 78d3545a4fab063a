import Dispatch
import Foundation
import KappaSimulator
import Logging

/// What the fleet and the replay share once their source is built: connect, run, report.
enum RunCommand {
    static func execute<Source: MessageSource>(
        source: Source, devices: Int, options: ConnectionOptions, pacing: Pacing, limit: Int?,
        labels labelsPath: String?, labelsFormat: LabelFileFormat? = nil, dropEvery: Int? = nil, edgeNodes: Int? = nil
    ) async throws {
        var logger = Logger(label: "kappa-sim")
        // Reconnection attempts are logged at warning by the MQTT client; the run reports what matters itself.
        logger.logLevel = .error
        let statistics = RunStatistics()
        var publishOptions = try options.publishOptions(dropEvery: dropEvery)
        if let edgeNodes {
            // No shared connections: each edge node opens its own when it first sends.
            publishOptions.layout = .perDevice
            try PerDeviceConnections.reserve(devices: edgeNodes)
        } else if publishOptions.layout == .perDevice {
            try PerDeviceConnections.reserve(devices: devices)
        }
        let publisher = MQTTFleetPublisher(options: publishOptions, statistics: statistics, logger: logger)
        let labels = try labelsPath.map { try LabelFileWriter(path: $0, format: labelsFormat) }
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
        var run = SimulationRun(source: source, pacing: pacing, limit: limit, batchSize: publishOptions.window * min(edgeNodes ?? options.connections.connectionCount(devices: devices), 16))
        try await run.run(publisher: publisher, labels: labels, stop: stop)
        progress?.stop()
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(statistics.summary(seconds: seconds))
        if let labelsPath { print("labels         \(labelsPath)") }
    }
}
