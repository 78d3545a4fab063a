import KappaCore
import KappaLog
import KappaPostgres
import KappaStream
import Logging
import ServiceLifecycle

/// Samples a replay's committed offsets every `interval`, reports ``ReplayProgress``, marks the version
/// caught up in `versions` the first time it is, and with `untilCaughtUp` returns then.
///
/// "Caught up" means every partition has committed what the log held one sample earlier: with live
/// appends going on the replay can never equal the moving head, but it can keep within one interval of it.
final class ReplayMonitor: Service, Sendable {
    private let stream: any LogStream
    private let database: PostgresConfiguration
    private let offsets: ProcessorOffsets
    private let untilCaughtUp: Bool
    private let interval: Duration
    private let logger: Logger
    private let onProgress: @Sendable (ReplayProgress) -> Void

    init(
        stream: any LogStream, database: PostgresConfiguration, offsets: ProcessorOffsets, untilCaughtUp: Bool, interval: Duration,
        logger: Logger, onProgress: @escaping @Sendable (ReplayProgress) -> Void
    ) {
        self.stream = stream
        self.database = database
        self.offsets = offsets
        self.untilCaughtUp = untilCaughtUp
        self.interval = interval
        self.logger = logger
        self.onProgress = onProgress
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await self.monitor()
        }
    }

    private func monitor() async throws {
        let connection = try await PostgresConnection.connect(database, logger: logger)
        do {
            try await monitor(connection)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private func monitor(_ connection: PostgresConnection) async throws {
        let clock = ContinuousClock()
        var target = highWatermarks()
        var previous: (committed: Int64, at: ContinuousClock.Instant)?
        var markedCaughtUp = false
        while true {
            try await Task.sleep(for: interval)
            let stored: [Int: Int64]
            do {
                stored = try await offsets.load(connection)
            } catch let error as PostgresError where error.isRetryable || error.code == .closed {
                try? await connection.reset()
                continue
            }
            let now = clock.now
            let heads = highWatermarks()
            let partitions = heads.enumerated().map { partition, head in
                ReplayProgress.Partition(partition: partition, committed: stored[partition] ?? 0, highWatermark: head)
            }
            let committed = partitions.reduce(0) { $0 + $1.committed }
            var rate = 0.0
            if let previous {
                let seconds = (now - previous.at).seconds
                if seconds > 0 { rate = Double(committed - previous.committed) / seconds }
            }
            let caughtUp = partitions.allSatisfy { $0.committed >= target[$0.partition] }
            onProgress(ReplayProgress(partitions: partitions, recordsPerSecond: rate, isCaughtUp: caughtUp))
            previous = (committed, now)
            target = heads
            if caughtUp, !markedCaughtUp {
                try await OutputVersions(schema: offsets.schema).setReplayState(connection, processor: offsets.processor, version: offsets.version, caughtUp: true)
                markedCaughtUp = true
                if untilCaughtUp { return }
            }
        }
    }

    private func highWatermarks() -> [Int64] {
        (0..<stream.partitionCount).map { stream.offsets(partition: $0).highWatermark }
    }
}
