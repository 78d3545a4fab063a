import KappaCore
import KappaLog
import ServiceLifecycle

/// Owns the open log for the life of `kappa run`: first in the service group, so it is shut down last,
/// after the bridge stopped writing and the processors made their final checkpoint; closing syncs every
/// partition to disk.
public struct LogService: Service {
    public let log: DiskLog

    public init(log: DiskLog) {
        self.log = log
    }

    public func run() async throws {
        try? await gracefulShutdown()
        let log = self.log
        // close() fsyncs: keep it off the cooperative pool.
        await Blocking.run { log.close() }
    }
}
