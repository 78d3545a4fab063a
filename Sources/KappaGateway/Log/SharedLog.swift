import Dispatch
import KappaLog
import Logging
import ServiceLifecycle

/// Opens the log for a command that only reads it beside a running gateway: writable (with the directory
/// lock) when nobody holds it, else read-only, kept current by a ``LogRefresher``.
public enum SharedLog {
    public static func open(directory: String, logger: Logger) throws -> (log: DiskLog, refresher: LogRefresher?) {
        var configuration = DiskLogConfiguration()
        configuration.fsync = .never
        configuration.diskFloorBytes = 0
        do {
            return (try DiskLog(directory: directory, configuration: configuration, logger: logger), nil)
        } catch {
            guard error.code == .directoryInUse else { throw error }
        }
        logger.notice("The log is open in another process (a running gateway?): reading it read-only and following its appends")
        configuration.readOnly = true
        let log = try DiskLog(directory: directory, configuration: configuration, logger: logger)
        return (log, LogRefresher(log: log, logger: logger))
    }
}

/// Picks up, every 50 ms, what another process appended to a read-only log; the refresh wakes the
/// processor waiting for records. The file reads run on a dispatch queue, off the cooperative pool.
public struct LogRefresher: Service {
    public let log: DiskLog
    public let logger: Logger
    public var interval: Duration

    public init(log: DiskLog, logger: Logger, interval: Duration = .milliseconds(50)) {
        self.log = log
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await refreshUntilCancelled() }
        } catch is CancellationError {}
    }

    private func refreshUntilCancelled() async throws {
        let queue = DispatchQueue(label: "kappa.log.refresh")
        let log = self.log
        while true {
            try await Task.sleep(for: interval)
            let failure: LogError? = await withCheckedContinuation { (continuation: CheckedContinuation<LogError?, Never>) in
                queue.async {
                    do throws(LogError) { try log.refreshFromDisk(); continuation.resume(returning: nil) } catch { continuation.resume(returning: error) }
                }
            }
            if let failure { logger.warning("Refreshing the log failed", metadata: ["kappa.error": "\(failure)"]) }
        }
    }
}
