import KappaCore
import KappaLog
import KappaPostgres
import Logging
import ServiceLifecycle

/// Runs one processor as a `Service`: a consumer of every partition of its stream that commits the
/// processor's output and the offsets it consumed in one PostgreSQL transaction, and so resumes exactly where
/// the database says after a crash.
///
/// Loop: read batches round-robin over the partitions and apply them; checkpoint when `maxBatchRecords` are
/// pending or `checkpointInterval` has passed since the first pending one; when caught up, wait for appends.
/// While PostgreSQL is unreachable it stops reading, retries the same checkpoint with backoff, and catches up
/// when the server is back (the log keeps what it has not committed: progress is registered after each
/// commit). Graceful shutdown: finish the batch in hand, take a last checkpoint, return.
final class ProcessorRunner: Service, Sendable {
    let name: String
    private let stream: any LogStream
    private let database: PostgresConfiguration
    private let schema: PostgresIdentifier
    private let configuration: ProcessorConfiguration
    private let status: ProcessorStatus
    private let intake: IntakePressure?
    private let logger: Logger
    private let makeProcessor: @Sendable () -> any StreamProcessor

    init(
        name: String,
        stream: any LogStream,
        database: PostgresConfiguration,
        schema: PostgresIdentifier,
        configuration: ProcessorConfiguration,
        status: ProcessorStatus,
        intake: IntakePressure? = nil,
        logger: Logger,
        makeProcessor: @escaping @Sendable () -> any StreamProcessor
    ) {
        self.name = name
        self.stream = stream
        self.database = database
        self.schema = schema
        self.configuration = configuration
        self.status = status
        self.intake = intake
        var logger = logger
        logger[metadataKey: StreamLoggingKey.processor] = "\(name)"
        self.logger = logger
        self.makeProcessor = makeProcessor
    }

    /// The name retention knows this consumer by.
    var consumerName: String { "processor.\(name).\(configuration.outputVersion)" }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await self.consume()
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            status.update(name) { $0.failure = "\(error)" }
            logger.error("Processor stopped; the bridge and the other processors keep running", metadata: [StreamLoggingKey.error: "\(error)"])
            throw error
        }
    }

    private func consume() async throws {
        guard let connection = try await connectWithRetry() else { return }
        do {
            try await consume(connection)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    private func consume(_ connection: PostgresConnection) async throws {
        guard var offsets = try await retrying("load offsets", connection: connection, { try await self.loadOffsets(connection) }) else { return }
        var processor = makeProcessor()
        guard try await retrying("prepare", connection: connection, { try await processor.prepare(connection: connection, stream: self.stream, offsets: offsets) }) != nil else { return }
        logger.info("Processor resumed", metadata: [StreamLoggingKey.offsets: "\(offsets)"])
        status.update(name) { $0.isRunning = true }
        defer { status.update(name) { $0.isRunning = false } }

        var committed = offsets
        var pending = 0
        var firstPending: ContinuousClock.Instant?
        var newestEventTime: Timestamp?
        let clock = ContinuousClock()
        let limits = LogReadLimits(maxRecords: configuration.readLimits.maxRecords, maxBytes: configuration.readLimits.maxBytes)

        var lastCheckpoint = clock.now
        while true {
            // After every suspension the loop may be on another pool thread; each one it lands on gives way.
            ThreadNiceness.lowerCurrentThread(to: configuration.threadNiceness)
            if !Task.isCancelled, shouldDefer(offsets: offsets, since: lastCheckpoint, now: clock.now) {
                // The lag keeps growing meanwhile, and /metrics and /readyz must show it.
                report(committed: committed, newestEventTime: newestEventTime, checkpointDuration: nil, counters: processor.counters)
                status.update(name) { $0.intakeDeferrals += 1 }
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let stopping = Task.isCancelled
            var readAny = false
            if !stopping {
                for partition in 0..<stream.partitionCount where pending < configuration.maxBatchRecords {
                    var partitionLimits = limits
                    partitionLimits.maxRecords = min(limits.maxRecords, configuration.maxBatchRecords - pending)
                    let result = try await stream.read(partition: partition, from: offsets[partition], limits: partitionLimits)
                    // Reading into lost offsets (LogStream.ensureNextOffset) returns no records and the offset after them.
                    guard !result.records.isEmpty else { offsets[partition] = result.nextOffset; continue }
                    for record in result.records {
                        processor.apply(record, partition: partition)
                    }
                    newestEventTime = result.records.last.map(\.eventTime)
                    offsets[partition] = result.nextOffset
                    pending += result.records.count
                    readAny = true
                }
                if readAny, firstPending == nil { firstPending = clock.now }
            }

            let due = firstPending.map { clock.now >= $0.advanced(by: configuration.checkpointInterval) } ?? false
            if offsets != committed && (stopping || due || pending >= configuration.maxBatchRecords) {
                let started = clock.now
                var rejected: [RejectedRecord] = []
                var written: Void?
                while true {
                    do {
                        written = try await retrying("checkpoint", connection: connection) {
                            try await connection.withTransaction { connection in
                                if processor.hasPendingOutput { try await processor.write(connection: connection) }
                                try await RejectedRecordIsolation.store(
                                    rejected, processor: self.name, version: self.configuration.outputVersion, stream: self.stream.name,
                                    schema: self.schema, connection: connection
                                )
                                try await self.writeOffsets(offsets, previous: committed, connection: connection)
                            }
                        }
                        break
                    } catch let error as PostgresError where error.dependsOnData && rejected.count < configuration.maxBatchRecords {
                        // One bad record must not stop every device: find it, set it aside, commit the rest.
                        guard let replacement = try await setAside(after: error, committed: committed, offsets: offsets,
                                                                   rejected: &rejected, connection: connection) else { return }
                        processor = replacement
                    }
                }
                guard written != nil else { return }
                processor.committed()
                committed = offsets
                lastCheckpoint = clock.now
                pending = 0
                firstPending = nil
                let duration = clock.now - started
                do {
                    try stream.registerProgress(consumer: consumerName, offsets: Dictionary(uniqueKeysWithValues: committed.enumerated().map { ($0, $1) }))
                } catch {
                    logger.warning("Could not register progress with the log", metadata: [StreamLoggingKey.error: "\(error)"])
                }
                report(committed: committed, newestEventTime: newestEventTime, checkpointDuration: duration, counters: processor.counters)
            } else if !readAny {
                report(committed: committed, newestEventTime: newestEventTime, checkpointDuration: nil, counters: processor.counters)
            }
            if stopping { return }
            if !readAny {
                let timeout = firstPending.map { $0.advanced(by: configuration.checkpointInterval) - clock.now } ?? .seconds(1)
                await waitForRecords(from: offsets, timeout: max(timeout, .milliseconds(1)))
            }
        }
    }

    /// Whether to give way to intake now: it is draining a backlog, this processor is far behind anyway,
    /// and its last checkpoint is recent enough.
    private func shouldDefer(offsets: [Int64], since lastCheckpoint: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool {
        guard let intake, let deferral = configuration.intakeDeferral, intake.isBacklogged,
              now - lastCheckpoint < deferral.longest
        else { return false }
        return lag(behind: offsets) > deferral.lagRecords
    }

    /// Records in the log after `offsets`, over every partition.
    private func lag(behind offsets: [Int64]) -> Int64 {
        var lag: Int64 = 0
        for (partition, offset) in offsets.enumerated() {
            lag += max(0, stream.offsets(partition: partition).highWatermark - offset)
        }
        return lag
    }

    // MARK: Records PostgreSQL refuses

    /// Isolates the records behind a data-dependent error, adds them to `rejected`, and returns a processor
    /// that has applied the batch without them; nil when shutdown interrupted. Throws `error` when no record
    /// can be blamed (the write fails whatever is left out).
    private func setAside(after error: PostgresError, committed: [Int64], offsets: [Int64],
                          rejected: inout [RejectedRecord], connection: PostgresConnection) async throws -> (any StreamProcessor)? {
        logger.error("PostgreSQL refused a checkpoint for what its records hold; isolating them", metadata: [StreamLoggingKey.error: "\(error)"])
        let isolation = RejectedRecordIsolation(stream: stream, makeProcessor: makeProcessor, logger: logger)
        guard let found = try await retrying("isolate rejected records", connection: connection, {
            try await isolation.isolate(committed: committed, offsets: offsets, connection: connection)
        }) else { return nil }
        let known = Set(rejected.map { LogPosition(partition: $0.partition, offset: $0.offset) })
        let new = found.filter { !known.contains(LogPosition(partition: $0.partition, offset: $0.offset)) }
        guard !new.isEmpty else { throw error }
        for record in new {
            logger.error("Record set aside: PostgreSQL refuses its output", metadata: [
                StreamLoggingKey.partition: "\(record.partition)", StreamLoggingKey.offsets: "\(record.offset)", StreamLoggingKey.error: "\(record.error)",
            ])
        }
        rejected += new
        status.update(name) { $0.rejectedRecords += Int64(new.count) }
        let skipping = Set(rejected.map { LogPosition(partition: $0.partition, offset: $0.offset) })
        return try await retrying("replay without rejected records", connection: connection) {
            let batch = try await isolation.records(from: committed, to: offsets)
            return try await isolation.replayed(batch, committed: committed, skipping: skipping, connection: connection)
        }
    }

    // MARK: Offsets

    private var offsetsTable: String { PostgresIdentifier("processor_offsets").qualified(in: schema) }

    private func loadOffsets(_ connection: PostgresConnection) async throws -> [Int64] {
        let rows = try await connection.query(
            "SELECT partition, next_offset FROM \(offsetsTable) WHERE processor = $1 AND output_version = $2 AND stream = $3",
            [.text(name), .text(configuration.outputVersion), .text(stream.name)]
        )
        var stored: [Int: Int64] = [:]
        for row in rows { stored[try row[0].int] = try row[1].int64 }
        var offsets: [Int64] = []
        for partition in 0..<stream.partitionCount {
            let range = stream.offsets(partition: partition)
            let offset = stored[partition] ?? range.start
            if offset < range.start {
                logger.warning("Retention deleted records this processor had not committed; skipping them", metadata: [
                    StreamLoggingKey.partition: "\(partition)", StreamLoggingKey.offsets: "\(offset)..<\(range.start)",
                ])
                offsets.append(range.start)
                continue
            }
            if offset > range.highWatermark {
                // The log lost records this processor committed (a corrupt tail cut, a power cut with fsync off).
                // Appends must go on after them: offsets handed out again would be skipped here as already done.
                let (stream, reason) = (self.stream, "processor \(name) committed up to offset \(offset)")
                _ = try await Blocking.run { try stream.ensureNextOffset(partition: partition, atLeast: offset, reason: reason) }
            }
            offsets.append(offset)
        }
        return offsets
    }

    /// Upserts the offsets that moved; a row that another instance moved meanwhile makes the transaction fail,
    /// so two instances of one processor can never both commit the same records.
    private func writeOffsets(_ offsets: [Int64], previous: [Int64], connection: PostgresConnection) async throws {
        var statements: [PostgresStatement] = []
        for (partition, offset) in offsets.enumerated() where offset != previous[partition] {
            statements.append(PostgresStatement(
                """
                INSERT INTO \(offsetsTable) AS o (processor, output_version, stream, partition, next_offset)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (processor, output_version, stream, partition)
                DO UPDATE SET next_offset = excluded.next_offset, updated_at = now() WHERE o.next_offset = $6
                """,
                [.text(name), .text(configuration.outputVersion), .text(stream.name), .int64(Int64(partition)), .int64(offset), .int64(previous[partition])]
            ))
        }
        let counts = try await connection.executeBatch(statements)
        if let index = counts.firstIndex(where: { $0 != 1 }) {
            throw ProcessorError(code: .concurrentInstance, processor: name, message: "the offsets of partition \(index) were moved by another instance")
        }
    }

    // MARK: Waiting and retrying

    private func waitForRecords(from offsets: [Int64], timeout: Duration) async {
        let stream = self.stream
        await withTaskGroup(of: Void.self) { group in
            for (partition, offset) in offsets.enumerated() {
                group.addTask { try? await stream.waitForRecords(partition: partition, from: offset) }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func connectWithRetry() async throws -> PostgresConnection? {
        var delay = configuration.retryInitialDelay
        while true {
            do {
                return try await PostgresConnection.connect(database, logger: logger)
            } catch let error as PostgresError where error.isRetryable {
                recordFailure("connect", error: error, delay: delay)
                guard await pause(&delay) else { return nil }
            }
        }
    }

    /// Runs `work` until it succeeds, resetting the connection and backing off after retryable PostgreSQL
    /// errors; nil when shutdown interrupted the waiting. Other errors end the processor.
    private func retrying<Value>(
        _ what: String,
        connection: PostgresConnection,
        _ work: () async throws -> Value
    ) async throws -> Value? {
        var delay = configuration.retryInitialDelay
        while true {
            do {
                return try await work()
            } catch let error as PostgresError where error.isRetryable || error.code == .closed {
                recordFailure(what, error: error, delay: delay)
                guard await pause(&delay) else { return nil }
                do { try await connection.reset() } catch {
                    logger.debug("Reconnecting failed", metadata: [StreamLoggingKey.error: "\(error)"])
                }
            }
        }
    }

    private func recordFailure(_ what: String, error: PostgresError, delay: Duration) {
        status.update(name) { snapshot in
            snapshot.postgresErrors += 1
            snapshot.databaseProblem = "\(what): \(error)"
        }
        logger.warning("PostgreSQL unavailable; retrying", metadata: [
            StreamLoggingKey.operation: "\(what)", StreamLoggingKey.error: "\(error)", StreamLoggingKey.retryIn: "\(delay)",
        ])
    }

    /// Sleeps `delay` and doubles it up to the maximum; false when the task was cancelled (shutdown).
    private func pause(_ delay: inout Duration) async -> Bool {
        do { try await Task.sleep(for: delay) } catch { return false }
        delay = min(delay * 2, configuration.retryMaxDelay)
        return true
    }

    private func report(committed: [Int64], newestEventTime: Timestamp?, checkpointDuration: Duration?, counters: ProcessorCounters) {
        let lag = lag(behind: committed)
        let lagSeconds = lag > 0 ? newestEventTime.map { max(0, Timestamp.now().secondsSinceEpoch - $0.secondsSinceEpoch) } ?? 0 : 0
        status.update(name) { snapshot in
            snapshot.lagRecords = lag
            snapshot.lagSeconds = lagSeconds
            if let checkpointDuration {
                snapshot.lastCheckpointDuration = checkpointDuration
                snapshot.checkpoints += 1
                snapshot.databaseProblem = nil
            }
            snapshot.duplicates = counters.duplicates
            snapshot.lateReadings = counters.lateReadings
            snapshot.undecodable = counters.undecodable
        }
    }
}

/// Metadata keys the processors log with.
enum StreamLoggingKey {
    static let processor = "kappa.processor"
    static let partition = "kappa.partition"
    static let offsets = "kappa.offsets"
    static let operation = "kappa.operation"
    static let error = "kappa.error"
    static let retryIn = "kappa.retry_in"
    static let records = "kappa.records"
}
