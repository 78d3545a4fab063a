import Foundation
import KappaJetStream
import KappaLog
import Logging

/// The log of `kappa run`: the embedded one on local disk, or a NATS JetStream cluster. The bridge, the
/// processors and /metrics take either through `PartitionedLog`/`LogStream`; what only the embedded log
/// has (recovery, recorded losses, the disk floor, bytes on disk) is reached through ``disk``.
public enum GatewayLog: Sendable {
    case disk(DiskLog)
    case jetStream(JetStreamLog)

    /// Opens the log `settings` name. Blocks (the embedded log recovers, JetStream connects and checks its
    /// streams): call it off the cooperative pool.
    static func open(settings: GatewaySettings, logger: Logger) throws -> GatewayLog {
        switch settings.logLocation {
        case .embedded:
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
            return .disk(try DiskLog(directory: settings.dataDirectory, configuration: settings.log, logger: logger))
        case .jetStream(let servers, let replicas):
            let configuration = settings.natsAccess.configuration(servers: servers, replicas: replicas)
            logger.notice("the log is on NATS JetStream; it does not report bytes per partition, recovery, recorded losses or a disk floor, and log.fsync, log.disk_floor_mb and log.retention_hours do not apply to it", metadata: [
                "kappa.nats": "\(servers.joined(separator: ","))", "kappa.replicas": "\(replicas)",
            ])
            return .jetStream(try JetStreamLog.connect(configuration: configuration, logger: logger))
        }
    }

    public var partitioned: any PartitionedLog {
        switch self {
        case .disk(let log): log
        case .jetStream(let log): log
        }
    }

    /// The embedded log, for what only it reports.
    public var disk: DiskLog? {
        if case .disk(let log) = self { log } else { nil }
    }

    /// Whether the JetStream client is connected to a NATS server now; nil for the embedded log.
    public var isJetStreamConnected: Bool? {
        if case .jetStream(let log) = self { log.isConnected } else { nil }
    }

    public func streamNames() throws(LogError) -> [String] {
        try partitioned.streamNames()
    }

    /// Blocks (the embedded log fsyncs, JetStream drains its connection): off the cooperative pool.
    public func close() {
        switch self {
        case .disk(let log): log.close()
        case .jetStream(let log): log.close()
        }
    }

    /// Opens stream `name`, creating it with `partitions` partitions if the log does not hold it yet. A
    /// JetStream cluster that does not answer yet (starting with the gateway, or a moment unreachable) is
    /// waited for and asked again for up to `startupWait`, with a warning saying why, before it is an error.
    func openOrCreate(_ name: String, partitions: Int, startupWait: Duration = .zero, logger: Logger? = nil) throws(LogError) -> any LogStream {
        switch self {
        case .disk(let log):
            return try Self.openOrCreate(log, name, partitions: partitions)
        case .jetStream(let log):
            let deadline = ContinuousClock.now + startupWait
            var lastWarning: ContinuousClock.Instant? = nil
            while true {
                do {
                    return try Self.openOrCreate(log, name, partitions: partitions)
                } catch where error.isTransient {
                    guard ContinuousClock.now < deadline else {
                        var failure = error
                        failure.message = "the NATS cluster did not answer within log.nats.startup_wait_seconds (\(startupWait)): \(error.message)"
                        throw failure
                    }
                    if lastWarning.map({ ContinuousClock.now - $0 >= .seconds(5) }) ?? true {
                        logger?.warning("the NATS cluster does not answer yet; waiting for it", metadata: [
                            "kappa.stream": "\(name)", "kappa.error": "\(error)",
                            "kappa.gives_up_in": "\(deadline - ContinuousClock.now)",
                        ])
                        lastWarning = ContinuousClock.now
                    }
                    Thread.sleep(forTimeInterval: 0.5)
                }
            }
        }
    }

    private static func openOrCreate<Log: PartitionedLog>(_ log: Log, _ name: String, partitions: Int) throws(LogError) -> Log.Stream {
        if try log.streamNames().contains(name) {
            return try log.openStream(named: name)
        }
        return try log.createStream(named: name, partitionCount: partitions)
    }
}
