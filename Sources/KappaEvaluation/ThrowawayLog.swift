import Foundation
import KappaCore
import KappaLog
import Logging

/// A readings log in a temporary directory for `kappa eval`: no fsync, no disk floor, removed on close.
public struct ThrowawayLog: Sendable {
    public let log: DiskLog
    public let readings: DiskStream
    private let directory: String

    public init(name: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kappa-eval-\(name)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        var configuration = DiskLogConfiguration()
        configuration.fsync = .never
        configuration.diskFloorBytes = 0
        log = try DiskLog(directory: directory, configuration: configuration, logger: Logger(label: "kappa.eval", factory: { _ in SwiftLogNoOpLogHandler() }))
        readings = try log.createStream(named: KappaStreams.readings, partitionCount: KappaStreams.defaultReadingPartitions)
    }

    public func close() {
        log.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
