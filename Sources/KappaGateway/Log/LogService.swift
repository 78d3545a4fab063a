import KappaCore
import KappaLog
import ServiceLifecycle

/// Owns the open log for the life of `kappa run`: first in the service group, so it is shut down last,
/// after the bridge stopped writing and the processors made their final checkpoint; closing syncs every
/// partition to disk (or, on JetStream, flushes and closes the connection).
public struct LogService: Service {
    public let log: GatewayLog

    public init(log: GatewayLog) {
        self.log = log
    }

    public init(log: DiskLog) {
        self.init(log: .disk(log))
    }

    public func run() async throws {
        try? await gracefulShutdown()
        let log = self.log
        // close() fsyncs or drains the NATS connection: keep it off the cooperative pool.
        await Blocking.run { log.close() }
    }
}
