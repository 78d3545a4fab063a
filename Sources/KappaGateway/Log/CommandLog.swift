import Foundation
import KappaJetStream
import KappaLog
import Logging

/// How a command other than `kappa run` needs the log.
public enum CommandLogAccess: Sendable {
    /// Inspecting: the embedded log read-only, never truncating or locking what a gateway writes.
    case readOnly
    /// Reading beside a running gateway (replay): the embedded log writable when nobody holds it, else
    /// read-only and kept current by a ``LogRefresher``.
    case shared
    /// Appending (import, dead-letter replay): the embedded log with its directory lock. A JetStream log has
    /// no lock, so the command says what to stop in its help instead.
    case exclusive(activity: String)
}

extension GatewayLog {
    /// The log `settings` name (`--log`/`KAPPA_LOG`/`log.url`, else `data_dir`), opened for a command. On
    /// JetStream, streams are opened with the replica count they were created with (an inspection or replay
    /// must not fail because `log.replicas` differs; `kappa log verify` reports it). Blocks: off the pool.
    public static func openForCommand(settings: GatewaySettings, access: CommandLogAccess, logger: Logger) throws -> (log: GatewayLog, refresher: LogRefresher?) {
        switch settings.logLocation {
        case .embedded:
            let directory = LogDirectory(path: settings.dataDirectory)
            switch access {
            case .readOnly:
                return (.disk(try directory.openReadOnly(logger: logger)), nil)
            case .shared:
                let (log, refresher) = try SharedLog.open(directory: settings.dataDirectory, logger: logger)
                return (.disk(log), refresher)
            case .exclusive(let activity):
                var configuration = settings.log
                configuration.fsync = .never
                return (.disk(try directory.openExclusive(configuration: configuration, while: activity, logger: logger)), nil)
            }
        case .jetStream(let servers, let replicas):
            var configuration = settings.natsAccess.configuration(servers: servers, replicas: replicas)
            configuration.acceptsExistingReplicas = true
            configuration.connectionName = "kappa-command"
            return (.jetStream(try JetStreamLog.connect(configuration: configuration, logger: logger)), nil)
        }
    }

    /// Opens an existing stream of either log.
    public func openStream(named name: String) throws(LogError) -> any LogStream {
        switch self {
        case .disk(let log): try log.openStream(named: name)
        case .jetStream(let log): try log.openStream(named: name)
        }
    }

    /// Opens stream `name`, creating it with `partitions` partitions when the log does not hold it yet.
    public func openOrCreateStream(named name: String, partitions: Int) throws(LogError) -> any LogStream {
        try openOrCreate(name, partitions: partitions)
    }

    /// Where the log is, for messages: the data directory or the NATS servers.
    public var place: String {
        switch self {
        case .disk(let log): log.directory
        case .jetStream(let log): log.configuration.servers.joined(separator: ",")
        }
    }
}
