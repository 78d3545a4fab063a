import Foundation
import KappaLog
import Logging

/// The log's data directory as the commands other than `kappa run` find and open it.
public struct LogDirectory: Sendable {
    public var path: String

    public init(path: String) {
        self.path = path
    }

    /// `--data-dir`, else `$KAPPA_DATA_DIR`, else `./data`.
    public init(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        path = flag ?? environment["KAPPA_DATA_DIR"] ?? "./data"
    }

    /// Opens read-only: inspecting never truncates or locks what a running gateway is writing.
    public func openReadOnly(logger: Logger) throws -> DiskLog {
        var configuration = DiskLogConfiguration()
        configuration.readOnly = true
        return try DiskLog(directory: path, configuration: configuration, logger: logger)
    }

    /// Opens for writing, with the directory lock; a log another process holds is an input error naming what
    /// to stop (`while importing`).
    public func openExclusive(configuration: DiskLogConfiguration, while activity: String, logger: Logger) throws -> DiskLog {
        do {
            return try DiskLog(directory: path, configuration: configuration, logger: logger)
        } catch {
            guard error.code == .directoryInUse else { throw error }
            throw SettingsError("The log at \(path) is open in another process: stop `kappa run` \(activity).")
        }
    }
}
