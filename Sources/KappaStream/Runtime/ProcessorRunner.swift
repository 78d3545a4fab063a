public import KappaCore
public import KappaLog
public import Logging
public import ServiceLifecycle

/// Runs one processor as a `Service`: a consumer of every partition of its stream (or, when gateways share the
/// log, of the partitions it claims: ``PartitionOwnership``) that commits the processor's output and the
/// offsets it consumed in one transaction of its ``CheckpointStore``, and so resumes exactly where the store
/// says after a crash; a commit another runner fenced off starts it again from the committed offsets. The decisions (read, give way, checkpoint, wait, stop) are the
/// ``CheckpointStateMachine``'s; this type does the I/O they call for.
///
/// Loop: read batches round-robin over the partitions, have the store give back what the processor keeps only
/// there that a batch needs (``CheckpointSession/prepare(_:batch:)``), and apply them; checkpoint when `maxBatchRecords` are
/// pending or `checkpointInterval` has passed since the first pending one; when caught up, wait for appends.
/// While the store is unreachable it stops reading, retries the same checkpoint with backoff, and catches up
/// when the server is back (the log keeps what it has not committed: progress is registered after each
/// commit). Graceful shutdown: finish the batch in hand, take a last checkpoint, return.
public final class ProcessorRunner<Store: CheckpointStore>: Service, Sendable {
    public typealias Processor = Store.Processor

    public let name: String
    private let stream: any LogStream
    private let store: Store
    private let configuration: ProcessorConfiguration
    private let status: ProcessorStatus
    private let intake: IntakePressure?
    private let logger: Logger
    private let makeProcessor: @Sendable () -> Processor

    /// - Parameter configuration: the runner's settings (checkpointing, batches, retries, niceness); the
    ///   processor's own settings are captured by `makeProcessor`.
    public init(
        name: String,
        stream: any LogStream,
        store: Store,
        configuration: ProcessorConfiguration,
        status: ProcessorStatus,
        intake: IntakePressure? = nil,
        logger: Logger,
        makeProcessor: @escaping @Sendable () -> Processor
    ) {
        self.name = name
        self.stream = stream
        self.store = store
        self.configuration = configuration
        self.status = status
        self.intake = intake
        var logger = logger
        logger[metadataKey: StreamLoggingKey.processor] = "\(name)"
        self.logger = logger
        self.makeProcessor = makeProcessor
    }

    /// The name retention knows this consumer by.
    public var consumerName: String { "processor.\(name).\(configuration.outputVersion)" }

    public func run() async throws {
        do {
            // Every job of this task and its children runs on the processors' own lowered threads.
            try await withTaskExecutorPreference(ProcessorExecutor.shared(niceness: configuration.threadNiceness)) {
                try await cancelWhenGracefulShutdown {
                    try await self.consume()
                }
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
        guard let session = try await connectWithRetry() else { return }
        do {
            try await consume(session)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
    }

    private func consume(_ session: Store.Session) async throws {
        switch configuration.ownership {
        case .everyPartition:
            let all = Array(0..<stream.partitionCount)
            status.update(name) { $0.ownedPartitions = all }
            _ = try await consume(session, partitions: all)
        case .shared(let rebalanceInterval):
            try await consumeShared(session, rebalanceInterval: rebalanceInterval)
        }
    }

    /// How one pass over a set of owned partitions ended.
    private enum PassEnd {
        /// Shutdown (after its last checkpoint).
        case stopped
        /// Checkpointed so that claims can change: `release` are to be handed over now; partitions claimed
        /// during the pass join the next one.
        case rebalance(release: [Int])
        /// Another runner moved the offsets of a partition this one consumed: everything since the last commit
        /// is dropped, and the next pass starts again from the committed offsets.
        case fenced
    }

    /// Several gateways share the log: passes over the partitions this runner holds, the claims checked
    /// between passes and every `rebalanceInterval` during one.
    private func consumeShared(_ session: Store.Session, rebalanceInterval: Duration) async throws {
        let partitionCount = stream.partitionCount
        while !Task.isCancelled {
            // Between passes nothing is pending, so claims can be given up and taken freely.
            guard let claims = try await retrying("partition claims", session: session, {
                try await session.partitionClaims(partitionCount: partitionCount)
            }) else { return }
            var owned = Set(claims.holders.filter { $0.value == claims.me }.keys)
            let plan = claims.plan(owned: owned, partitionCount: partitionCount)
            for partition in plan.release {
                guard try await release(partition, session: session) else { return }
                owned.remove(partition)
            }
            for partition in plan.claim {
                guard let claimed = try await claim(partition, session: session) else { return }
                if claimed { owned.insert(partition) }
            }
            let partitions = owned.sorted()
            status.update(name) { $0.ownedPartitions = partitions }
            if partitions.isEmpty {
                // Every partition has its owner: wait for one to die or to hand one over. Their lag is theirs.
                status.update(name) { $0.lagRecords = 0 }
                do { try await Task.sleep(for: rebalanceInterval) } catch { return }
                continue
            }
            switch try await consume(session, partitions: partitions, rebalanceInterval: rebalanceInterval) {
            case .stopped:
                return
            case .rebalance(let handedOver):
                for partition in handedOver {
                    guard try await release(partition, session: session) else { return }
                }
            case .fenced:
                continue
            }
        }
    }

    /// Claims a free partition; nil when shutdown interrupted.
    private func claim(_ partition: Int, session: Store.Session) async throws -> Bool? {
        guard let claimed = try await retrying("claim partition", session: session, { try await session.claim(partition: partition) }) else { return nil }
        if claimed {
            status.update(name) { $0.partitionsClaimed += 1 }
            logger.notice("Partition claimed: this gateway consumes it from its committed offset", metadata: [StreamLoggingKey.partition: "\(partition)"])
        }
        return claimed
    }

    /// Hands a partition over (its work is committed); false when shutdown interrupted.
    private func release(_ partition: Int, session: Store.Session) async throws -> Bool {
        guard try await retrying("release partition", session: session, { try await session.release(partition: partition) }) != nil else { return false }
        status.update(name) { $0.partitionsReleased += 1 }
        logger.notice("Partition handed over: another gateway holds fewer than its share", metadata: [StreamLoggingKey.partition: "\(partition)"])
        return true
    }

    /// During a pass: whether the claims call for ending it (`.rebalance`, `.fenced`) or not (nil). Lost
    /// claims (a reconnect drops them) are taken again while free; one another session holds means fenced.
    private func checkClaims(_ session: Store.Session, partitions: [Int]) async throws -> PassEnd? {
        let partitionCount = stream.partitionCount
        guard let claims = try await retrying("partition claims", session: session, {
            try await session.partitionClaims(partitionCount: partitionCount)
        }) else { return nil }
        let plan = claims.plan(owned: Set(partitions), partitionCount: partitionCount)
        for partition in plan.lost {
            if claims.holders[partition] == nil, let claimed = try await retrying("claim partition", session: session, {
                try await session.claim(partition: partition)
            }), claimed { continue }
            logger.warning("Partition taken over by another gateway; dropping this gateway's uncommitted work on it", metadata: [
                StreamLoggingKey.partition: "\(partition)",
            ])
            return .fenced
        }
        var claimedAny = false
        for partition in plan.claim {
            if try await claim(partition, session: session) == true { claimedAny = true }
        }
        return claimedAny || !plan.release.isEmpty ? .rebalance(release: plan.release) : nil
    }

    /// Consumes `partitions` (the others are left alone) from their committed offsets with a fresh processor,
    /// loaded and resumed as after a restart, until shutdown or (shared ownership) until the claims change.
    private func consume(_ session: Store.Session, partitions: [Int], rebalanceInterval: Duration? = nil) async throws -> PassEnd {
        guard let loaded = try await retrying("load offsets", session: session, { try await self.loadOffsets(session, partitions: partitions) }) else { return .stopped }
        // Partitions another gateway consumes are not read: their duplicate windows need not be rebuilt.
        var offsets = loaded
        for partition in 0..<stream.partitionCount where !partitions.contains(partition) {
            offsets[partition] = min(loaded[partition], stream.offsets(partition: partition).start)
        }
        var processor = makeProcessor()
        let prepared: Void? = try await retrying("prepare", session: session) { () async throws -> Void in
            try await session.load(into: processor, stream: self.stream, offsets: offsets)
            try await processor.resume(stream: self.stream, offsets: offsets)
        }
        guard prepared != nil else { return .stopped }
        logger.info("Processor resumed", metadata: [
            StreamLoggingKey.offsets: "\(partitions.map { offsets[$0] })", StreamLoggingKey.partition: "\(partitions)",
        ])
        status.update(name) { $0.isRunning = true }
        defer { status.update(name) { $0.isRunning = false } }

        let clock = ContinuousClock()
        let limits = LogReadLimits(maxRecords: configuration.readLimits.maxRecords, maxBytes: configuration.readLimits.maxBytes)
        var machine = CheckpointStateMachine(
            resumingFrom: offsets,
            limits: .init(maxBatchRecords: configuration.maxBatchRecords, checkpointInterval: configuration.checkpointInterval,
                          intakeDeferral: configuration.intakeDeferral, readCoalescing: configuration.readCoalescing,
                          quietCheckpoint: configuration.quietCheckpoint),
            now: clock.now
        )
        var newestEventTime: Timestamp?
        var nextClaimsCheck = rebalanceInterval.map { clock.now + $0 }
        var passEnd: PassEnd?
        while true {
            if passEnd == nil, let due = nextClaimsCheck, let rebalanceInterval, clock.now >= due, !Task.isCancelled {
                nextClaimsCheck = clock.now + rebalanceInterval
                switch try await checkClaims(session, partitions: partitions) {
                case .fenced?:
                    status.update(name) { $0.fenced += 1 }
                    return .fenced
                case let end?:
                    // A last checkpoint of this pass, then the claims change.
                    passEnd = end
                case nil:
                    break
                }
            }
            let reading = machine.offsets
            switch machine.iterationStarts(now: clock.now, isCancelled: Task.isCancelled || passEnd != nil, intakeBacklogged: intake?.isBacklogged ?? false,
                                           lag: { lag(behind: reading, partitions: partitions) }) {
            case .deferToIntake:
                // The lag keeps growing meanwhile, and /metrics and /readyz must show it.
                report(committed: machine.committed, partitions: partitions, newestEventTime: newestEventTime, checkpointDuration: nil, counters: processor.counters)
                status.update(name) { $0.intakeDeferrals += 1 }
                try? await Task.sleep(for: .milliseconds(20))
                continue
            case .finish:
                break
            case .read:
                // Every partition in one read call (one hop to the log's read thread), at most the batch's room in all.
                let results = try await readWaitingOutUnavailableLog(partitions.map { ($0, machine.offsets[$0]) }, limits: limits, totalRecords: machine.batchRoom)
                // What the batch needs that the processor keeps only in the store (idle state) comes back first.
                let batch = zip(partitions, results).map { (partition: $0, records: $1.records) }
                guard try await retrying("prepare batch", session: session, { try await session.prepare(processor, batch: batch) }) != nil else {
                    return .stopped
                }
                for (partition, result) in zip(partitions, results) {
                    // Reading into lost offsets (LogStream.ensureNextOffset) returns no records and the offset after them.
                    for record in result.records {
                        processor.apply(record, partition: partition)
                    }
                    if let last = result.records.last { newestEventTime = last.eventTime }
                    machine.partitionRead(partition, records: result.records.count, nextOffset: result.nextOffset)
                }
            }

            switch machine.readingEnded(now: clock.now) {
            case .checkpoint(let committed, let offsets):
                let started = clock.now
                var rejected: [RejectedRecord] = []
                var written: Void?
                while true {
                    do {
                        written = try await retrying("checkpoint", session: session) {
                            try await session.commit(processor, rejected: rejected, offsets: offsets, previous: committed)
                        }
                        break
                    } catch let error as ProcessorError where error.code == .concurrentInstance && rebalanceInterval != nil {
                        // Two runners believed they owned a partition; the other committed first. Nothing of this
                        // transaction landed, and what this runner computed since its last commit is dropped.
                        logger.warning("Checkpoint fenced: another gateway committed these partitions first; dropping the uncommitted work and starting again from the committed offsets", metadata: [
                            StreamLoggingKey.error: "\(error)",
                        ])
                        status.update(name) { $0.fenced += 1 }
                        return .fenced
                    } catch let error as any CheckpointStoreError where error.dependsOnData && rejected.count < configuration.maxBatchRecords {
                        // One bad record must not stop every device: find it, set it aside, commit the rest.
                        guard let replacement = try await setAside(after: error, committed: committed, offsets: offsets,
                                                                   rejected: &rejected, session: session) else { return .stopped }
                        processor = replacement
                    }
                }
                guard written != nil else { return .stopped }
                processor.committed()
                machine.checkpointCommitted(now: clock.now)
                let duration = clock.now - started
                do {
                    try stream.registerProgress(consumer: consumerName, offsets: Dictionary(uniqueKeysWithValues: partitions.map { ($0, offsets[$0]) }))
                } catch {
                    logger.warning("Could not register progress with the log", metadata: [StreamLoggingKey.error: "\(error)"])
                }
                report(committed: offsets, partitions: partitions, newestEventTime: newestEventTime, checkpointDuration: duration, counters: processor.counters)
            case .report:
                report(committed: machine.committed, partitions: partitions, newestEventTime: newestEventTime, checkpointDuration: nil, counters: processor.counters)
            case .keepPending:
                break
            }

            switch machine.iterationEnds(now: clock.now) {
            case .stop:
                return passEnd ?? .stopped
            case .waitForRecords(let timeout):
                let untilClaimsCheck = nextClaimsCheck.map { max($0 - clock.now, .milliseconds(1)) } ?? timeout
                await waitForRecords(from: machine.offsets, partitions: partitions, timeout: min(timeout, untilClaimsCheck))
            case .pause(let duration):
                // Shutdown cuts the pause short; the next iteration finishes.
                try? await Task.sleep(for: min(duration, nextClaimsCheck.map { max($0 - clock.now, .milliseconds(1)) } ?? duration))
            case .readOn:
                break
            }
        }
    }

    /// Records in the log after `offsets`, over the partitions this runner consumes.
    private func lag(behind offsets: [Int64], partitions: [Int]) -> Int64 {
        var lag: Int64 = 0
        for partition in partitions {
            lag += max(0, stream.offsets(partition: partition).highWatermark - offsets[partition])
        }
        return lag
    }

    // MARK: Records the store refuses

    /// Isolates the records behind a data-dependent error, adds them to `rejected`, and returns a processor
    /// that has applied the batch without them; nil when shutdown interrupted. Throws `error` when no record
    /// can be blamed (the write fails whatever is left out).
    private func setAside(after error: any CheckpointStoreError, committed: [Int64], offsets: [Int64],
                          rejected: inout [RejectedRecord], session: Store.Session) async throws -> Processor? {
        logger.error("The store refused a checkpoint for what its records hold; isolating them", metadata: [StreamLoggingKey.error: "\(error)"])
        let isolation = RejectedRecordIsolation(stream: stream, session: session, makeProcessor: makeProcessor, logger: logger)
        guard let found = try await retrying("isolate rejected records", session: session, {
            try await isolation.isolate(committed: committed, offsets: offsets)
        }) else { return nil }
        let known = Set(rejected.map { LogPosition(partition: $0.partition, offset: $0.offset) })
        let new = found.filter { !known.contains(LogPosition(partition: $0.partition, offset: $0.offset)) }
        guard !new.isEmpty else { throw error }
        for record in new {
            logger.error("Record set aside: the store refuses its output", metadata: [
                StreamLoggingKey.partition: "\(record.partition)", StreamLoggingKey.offsets: "\(record.offset)", StreamLoggingKey.error: "\(record.error)",
            ])
        }
        rejected += new
        status.update(name) { $0.rejectedRecords += Int64(new.count) }
        let skipping = Set(rejected.map { LogPosition(partition: $0.partition, offset: $0.offset) })
        return try await retrying("replay without rejected records", session: session) {
            let batch = try await isolation.records(from: committed, to: offsets)
            return try await isolation.replayed(batch, committed: committed, skipping: skipping)
        }
    }

    // MARK: Offsets

    /// The committed offsets of every partition; only those of `partitions` are checked against the log.
    private func loadOffsets(_ session: Store.Session, partitions: [Int]) async throws -> [Int64] {
        let stored = try await session.loadOffsets()
        var offsets: [Int64] = []
        for partition in 0..<stream.partitionCount {
            let range = stream.offsets(partition: partition)
            let offset = stored[partition] ?? range.start
            guard partitions.contains(partition) else {
                offsets.append(offset)
                continue
            }
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

    // MARK: Waiting and retrying

    private func waitForRecords(from offsets: [Int64], partitions: [Int], timeout: Duration) async {
        let stream = self.stream
        await withTaskGroup(of: Void.self) { group in
            for partition in partitions {
                let offset = offsets[partition]
                group.addTask { try? await stream.waitForRecords(partition: partition, from: offset) }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func connectWithRetry() async throws -> Store.Session? {
        var delay = configuration.retryInitialDelay
        while true {
            do {
                return try await store.openSession()
            } catch let error as any CheckpointStoreError where error.isTransient {
                recordFailure("connect", error: error, delay: delay)
                guard await pause(&delay) else { return nil }
            }
        }
    }

    /// Runs `work` until it succeeds, resetting the session and backing off after transient store errors;
    /// nil when shutdown interrupted the waiting. Other errors end the processor.
    private func retrying<Value>(
        _ what: String,
        session: Store.Session,
        _ work: () async throws -> Value
    ) async throws -> Value? {
        var delay = configuration.retryInitialDelay
        while true {
            do {
                return try await work()
            } catch let error as any CheckpointStoreError where error.isTransient {
                recordFailure(what, error: error, delay: delay)
                guard await pause(&delay) else { return nil }
                do { try await session.reset() } catch {
                    logger.debug("Reconnecting failed", metadata: [StreamLoggingKey.error: "\(error)"])
                }
            }
        }
    }

    /// A log that is briefly unavailable (a JetStream partition electing a new leader after a node died, the
    /// client reconnecting) is waited out, as the bridge waits it out for appends; nothing of this partition
    /// was applied yet, so the reads simply start again at the same offsets. Other log errors stop the processor.
    private func readWaitingOutUnavailableLog(_ partitions: [(partition: Int, offset: Int64)], limits: LogReadLimits, totalRecords: Int) async throws -> [LogReadResult] {
        var delay = configuration.retryInitialDelay
        while true {
            do {
                return try await stream.read(partitions, limits: limits, totalRecords: totalRecords)
            } catch let error as LogError where error.isTransient {
                logger.warning("Log unavailable; retrying the read", metadata: [
                    StreamLoggingKey.partition: "\(error.partition.map { "\($0)" } ?? "\(partitions.map(\.partition))")", StreamLoggingKey.error: "\(error)", StreamLoggingKey.retryIn: "\(delay)",
                ])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, min(configuration.retryMaxDelay, .seconds(2)))
            }
        }
    }

    private func recordFailure(_ what: String, error: any CheckpointStoreError, delay: Duration) {
        status.update(name) { snapshot in
            snapshot.postgresErrors += 1
            snapshot.databaseProblem = "\(what): \(error)"
        }
        logger.warning("Checkpoint store unavailable; retrying", metadata: [
            StreamLoggingKey.operation: "\(what)", StreamLoggingKey.error: "\(error)", StreamLoggingKey.retryIn: "\(delay)",
        ])
    }

    /// Sleeps `delay` and doubles it up to the maximum; false when the task was cancelled (shutdown).
    private func pause(_ delay: inout Duration) async -> Bool {
        do { try await Task.sleep(for: delay) } catch { return false }
        delay = min(delay * 2, configuration.retryMaxDelay)
        return true
    }

    private func report(committed: [Int64], partitions: [Int], newestEventTime: Timestamp?, checkpointDuration: Duration?, counters: ProcessorCounters) {
        let lag = lag(behind: committed, partitions: partitions)
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
            snapshot.stateEvictions = counters.stateEvictions
            snapshot.stateReloads = counters.stateReloads
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
