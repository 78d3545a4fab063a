public import KappaCore
public import KappaLog
import Logging
import Synchronization

/// One Kappa stream on JetStream: partition `p` is the JetStream stream `<prefix>_<name>_<p>`, and offset
/// `o` is that stream's sequence `o + 1`.
///
/// **Dense offsets.** Each message is published with `Nats-Expected-Last-Sequence` set to the sequence before
/// it (0 for an empty partition), so JetStream stores it at exactly the sequence the appender chose or refuses
/// it: a retry can never store a record twice or out of order. Message ids are `<sequence>.<writer>`, and
/// every record after an append's first also expects its writer's previous message id: a publish that fails
/// makes every later one of the same append fail too, even when another writer's records happen to end the
/// stream at the sequence a later one expects. The streams deny deleting single messages, so no holes appear.
///
/// **Several writers** (gateways sharing the log): a writer whose view of a partition's end is stale is
/// refused (wrong last sequence or last message id) and tries again after the new end at once; which of its
/// records were stored is decided by comparing contents, never assumed.
///
/// **Durability.** An append returns only when JetStream acknowledged every message in it (for replicas 3: a
/// majority stored it). If some acknowledgement does not come within the request timeout, the append throws
/// ``LogError/Code/unavailable``; the partitions touched then remember the batch, and the next append first
/// asks JetStream how far each partition got. When that next append is the same batch again (the MQTT bridge
/// retries exactly the records it holds), the records already stored are skipped and keep their offsets, so
/// nothing is stored twice; anything else is appended after them.
public final class JetStreamStream: LogStream {
    public let name: String
    public let partitionCount: Int
    private let log: JetStreamLog
    private let partitionStates: Mutex<[PartitionState]>
    private let signals: [AppendSignal]
    private let registeredProgress = Mutex<[String: [Int: Int64]]>([:])
    /// The read cursor of each partition that is not in use right now.
    private let cursors = Mutex<[Int: NATSPullCursor]>([:])

    /// What this process knows of one partition.
    struct PartitionState {
        /// The last sequence known stored; the high watermark is this value (offset = sequence - 1).
        var lastSequence: UInt64
        var firstSequence: UInt64
        /// The highest sequence JetStream acknowledged to this process: it must never report less.
        var acknowledgedSequence: UInt64 = 0
        /// Set when an append gave up on this partition: JetStream may hold more of it than acknowledged.
        var unresolved: UnresolvedAppend?
    }

    struct UnresolvedAppend {
        /// The last sequence before the append's first record.
        var baseSequence: UInt64
        var records: [LogAppendRecord]
    }

    init(name: String, log: JetStreamLog, partitions: [JetStreamStreamInfo]) {
        self.name = name
        self.log = log
        self.partitionCount = partitions.count
        self.partitionStates = Mutex(partitions.map { info in
            PartitionState(lastSequence: info.lastSequence, firstSequence: info.firstSequence)
        })
        self.signals = partitions.map { AppendSignal(highWatermark: Int64($0.lastSequence)) }
    }

    public func partition(forKey key: [UInt8]) -> Int {
        StableHash.partition(forKey: key, partitionCount: partitionCount)
    }

    // MARK: Appends

    public func append(key: [UInt8], eventTime: Timestamp, value: [UInt8]) throws(LogError) -> LogPosition {
        try append([LogAppendRecord(key: key, eventTime: eventTime, value: value)])[0]
    }

    public func append(_ records: [LogAppendRecord]) throws(LogError) -> [LogPosition] {
        guard !records.isEmpty else { return [] }
        return try log.appendLock.withLock { _ throws(LogError) in
            // Another gateway appending to the same partition makes JetStream refuse this one's expected last
            // sequence: nothing of the refused records was stored, so try again at once after the new end.
            var attempt = 1
            while true {
                switch try appendHoldingLock(records) {
                case .stored(let positions):
                    return positions
                case .overtaken(let error):
                    guard attempt < Self.attemptsAgainstOtherWriters else { throw error }
                    attempt += 1
                }
            }
        }
    }

    /// Several gateways appending to one partition race for each sequence; a loser learns the new end and
    /// tries again. Past this many lost races in one append, it reports the log unavailable (the bridge retries).
    static let attemptsAgainstOtherWriters = 50

    private enum AppendOutcome {
        case stored([LogPosition])
        /// Another writer took the sequences; the unstored records were refused, not stored.
        case overtaken(LogError)
    }

    /// One partition's share of an append: which records to publish after `baseSequence`.
    private struct PartitionPlan {
        var partition: Int
        var subject: String
        var indices: [Int]
        /// Records of `indices` already stored by an earlier attempt of the same append.
        var alreadyStored: Int
        /// Where the first of them is.
        var alreadyStoredFrom: UInt64 = 0
        var baseSequence: UInt64
    }

    private func appendHoldingLock(_ records: [LogAppendRecord]) throws(LogError) -> AppendOutcome {
        var indicesByPartition = [[Int]](repeating: [], count: partitionCount)
        for (index, record) in records.enumerated() {
            indicesByPartition[partition(forKey: record.key)].append(index)
        }
        var plans: [PartitionPlan] = []
        for (partition, indices) in indicesByPartition.enumerated() where !indices.isEmpty {
            plans.append(try plan(partition: partition, indices: indices, records: records))
        }

        let connection = log.connection
        let deadline = MonotonicClock.nanoseconds() &+ log.configuration.requestTimeout.nanosecondsForDeadline
        let attempt = connection.acknowledgements.nextAttempt()
        var sendFailure: LogError?
        publishing: for plan in plans {
            for (position, index) in plan.indices.enumerated().dropFirst(plan.alreadyStored) {
                let sequence = plan.baseSequence + UInt64(position - plan.alreadyStored) + 1
                guard connection.acknowledgements.waitForRoom(window: log.configuration.publishWindow, deadline: deadline) else { break publishing }
                let record = records[index]
                // After the first record, each expects this writer's previous one by id as well: if another
                // gateway's records took the first sequences, a later record could otherwise match the new end
                // by sequence alone and be stored ahead of the refused ones, then again by the retry.
                let chained = position > plan.alreadyStored
                do {
                    try connection.publishAsync(
                        subject: plan.subject,
                        body: JetStreamRecordFormat.encode(key: record.key, eventTime: record.eventTime, value: record.value),
                        key: PublishKey(subject: plan.subject, messageID: Self.messageID(sequence, writer: connection.writerID), attempt: attempt),
                        expectedLastSequence: sequence - 1,
                        expectedLastMessageID: chained ? Self.messageID(sequence - 1, writer: connection.writerID) : nil
                    )
                } catch {
                    sendFailure = error
                    break publishing
                }
            }
        }
        let outcomes = connection.acknowledgements.collect(deadline: deadline)

        var positions = [LogPosition](repeating: LogPosition(partition: 0, offset: 0), count: records.count)
        var problems: [String] = []
        var overtaken = true
        var stored: [(partition: Int, lastSequence: UInt64)] = []
        for plan in plans {
            let toPublish = plan.indices.count - plan.alreadyStored
            var acknowledged = 0
            while acknowledged < toPublish {
                let sequence = plan.baseSequence + UInt64(acknowledged) + 1
                let key = PublishKey(subject: plan.subject, messageID: Self.messageID(sequence, writer: connection.writerID), attempt: attempt)
                guard case .stored(let storedAt, let duplicate)? = outcomes[key], storedAt == sequence, !duplicate else {
                    problems.append(Self.describe(outcomes[key], partition: plan.partition))
                    if !Self.refusedForAnotherWriter(outcomes[key]) { overtaken = false }
                    break
                }
                acknowledged += 1
            }
            for (position, index) in plan.indices.enumerated() {
                let sequence = position < plan.alreadyStored
                    ? plan.alreadyStoredFrom + UInt64(position)
                    : plan.baseSequence + UInt64(position - plan.alreadyStored) + 1
                positions[index] = LogPosition(partition: plan.partition, offset: Int64(sequence) - 1)
            }
            stored.append((plan.partition, plan.baseSequence + UInt64(acknowledged)))
        }

        let complete = problems.isEmpty && sendFailure == nil
        for (plan, progress) in zip(plans, stored) {
            partitionStates.withLock { states in
                states[plan.partition].lastSequence = max(states[plan.partition].lastSequence, progress.lastSequence)
                states[plan.partition].acknowledgedSequence = max(states[plan.partition].acknowledgedSequence, progress.lastSequence)
                // Every partition of a failed append remembers it, the complete ones too: the bridge retries
                // the whole batch, and their records must not be stored again.
                states[plan.partition].unresolved = complete ? nil : UnresolvedAppend(
                    baseSequence: plan.alreadyStored > 0 ? plan.alreadyStoredFrom - 1 : plan.baseSequence,
                    records: plan.indices.map { records[$0] }
                )
            }
            signals[plan.partition].publish(highWatermark: Int64(progress.lastSequence))
        }
        guard complete else {
            let reason = sendFailure.map { "\($0)" } ?? problems.first ?? "no acknowledgement"
            var error = LogError(code: .unavailable, message: "JetStream did not acknowledge every record of the append within \(log.configuration.requestTimeout): \(reason)")
            error.stream = name
            if overtaken, sendFailure == nil { return .overtaken(error) }
            throw error
        }
        return .stored(positions)
    }

    /// A record's message id: the sequence it is meant for, then the writer (`NATSConnection.writerID`).
    static func messageID(_ sequence: UInt64, writer: String) -> String {
        "\(sequence).\(writer)"
    }

    /// JetStream answered that it did not store the message because another writer got there first: its
    /// expected last sequence (error 10071) or last message id (10070) was wrong, or its message id was a
    /// duplicate.
    private static func refusedForAnotherWriter(_ outcome: PublishOutcome?) -> Bool {
        switch outcome {
        case .failed(_, let errorCode, _)?: return errorCode == 10071 || errorCode == 10070
        case .stored(_, let duplicate)?: return duplicate
        case nil: return false
        }
    }

    /// Where a partition's records go. After an append that gave up, asks JetStream how far the partition
    /// really got, and skips the records of the same batch that it already holds.
    private func plan(partition: Int, indices: [Int], records: [LogAppendRecord]) throws(LogError) -> PartitionPlan {
        let subject = log.layout.subject(name, partition: partition)
        let state = partitionStates.withLock { $0[partition] }
        guard let unresolved = state.unresolved else {
            return PartitionPlan(partition: partition, subject: subject, indices: indices, alreadyStored: 0, baseSequence: state.lastSequence)
        }
        let info = try streamInfo(partition: partition)
        reportLostAcknowledgements(partition: partition, info: info)
        let landed = info.lastSequence >= unresolved.baseSequence ? Int(info.lastSequence - unresolved.baseSequence) : 0
        // What landed after the base may be another gateway's records: this append's are those that JetStream
        // holds right after the base (each was published expecting the one before), so compare the contents.
        let streamName = log.layout.streamName(name, partition: partition)
        var alreadyStored = 0
        var body: [UInt8] = []
        while alreadyStored < min(landed, unresolved.records.count, indices.count),
              Self.same(records[indices[alreadyStored]], unresolved.records[alreadyStored]) {
            body.removeAll(keepingCapacity: true)
            guard try log.connection.appendMessage(stream: streamName, sequence: unresolved.baseSequence + UInt64(alreadyStored) + 1, to: &body),
                  let layout = JetStreamRecordFormat.decode(body, body: 0..<body.count),
                  Self.same(records[indices[alreadyStored]], LogAppendRecord(key: Array(body[layout.key]), eventTime: layout.eventTime, value: Array(body[layout.value])))
            else { break }
            alreadyStored += 1
        }
        if landed > 0, !Self.same(records[indices[0]], unresolved.records[0]) {
            log.logger.warning("an append that reported failure may have stored records and was not retried as it was; its messages come again from the broker", metadata: [
                "kappa.stream": "\(name)", "kappa.partition": "\(partition)", "kappa.records": "\(landed)",
            ])
        }
        partitionStates.withLock { states in
            states[partition].lastSequence = max(states[partition].lastSequence, info.lastSequence)
            states[partition].firstSequence = info.firstSequence
        }
        signals[partition].publish(highWatermark: Int64(info.lastSequence))
        return PartitionPlan(partition: partition, subject: subject, indices: indices, alreadyStored: alreadyStored,
                             alreadyStoredFrom: unresolved.baseSequence + 1, baseSequence: info.lastSequence)
    }

    private static func same(_ left: LogAppendRecord, _ right: LogAppendRecord) -> Bool {
        left.eventTime == right.eventTime && left.key == right.key && left.value == right.value
    }

    private static func describe(_ outcome: PublishOutcome?, partition: Int) -> String {
        switch outcome {
        case nil: return "partition \(partition): no answer in time"
        case .stored(let sequence, let duplicate)?: return "partition \(partition): stored at sequence \(sequence)\(duplicate ? " as a duplicate" : ""), not where expected"
        case .failed(let status, let errorCode, let text)?:
            let detail = text.isEmpty || text == status ? status : "\(status): \(text)"
            return "partition \(partition): \(detail)\(errorCode == 0 ? "" : " (JetStream error \(errorCode))")"
        }
    }

    // MARK: Reads

    public func read(partition: Int, from offset: Int64, limits: LogReadLimits) throws(LogError) -> LogReadResult {
        try checkPartition(partition)
        var range = offsets(cachedFor: partition)
        // At or past the end, another writer may have appended since this process last looked.
        if offset >= range.highWatermark || offset < range.start { range = try refreshOffsets(partition) }
        guard offset >= range.start, offset <= range.highWatermark else {
            var error = LogError(code: .offsetOutOfRange, message: "the offset is outside the partition's offsets \(range.start)..<\(range.highWatermark)")
            error.stream = name
            error.partition = partition
            error.offset = offset
            throw error
        }
        var buffer: [UInt8] = []
        var bodies: [(offset: Int64, range: Range<Int>)] = []
        var next = offset
        if offset < range.highWatermark {
            let wanted = Int(min(Int64(limits.maxRecords), range.highWatermark - offset))
            try fetch(partition: partition, from: offset, count: wanted, maxBytes: limits.maxBytes, into: &buffer, bodies: &bodies)
            next = bodies.last.map { $0.offset + 1 } ?? offset
        }
        let shared = buffer
        var records: [LogRecord] = []
        records.reserveCapacity(bodies.count)
        for body in bodies {
            guard let layout = JetStreamRecordFormat.decode(shared, body: body.range) else {
                var error = LogError(code: .corruption, message: "a JetStream message is not a Kappa log record")
                error.stream = name
                error.partition = partition
                error.offset = body.offset
                throw error
            }
            records.append(LogRecord(offset: body.offset, eventTime: layout.eventTime, key: shared[layout.key], value: shared[layout.value]))
        }
        return LogReadResult(records: records, nextOffset: next)
    }

    /// Reads through a pull consumer kept per partition (one round trip for a whole batch); it continues where
    /// the previous read of the partition ended, and is replaced when a read starts elsewhere. When the
    /// consumer has nothing ready yet, one message is fetched directly, so a read of available records never
    /// comes back empty.
    private func fetch(partition: Int, from offset: Int64, count: Int, maxBytes: Int, into buffer: inout [UInt8], bodies: inout [(offset: Int64, range: Range<Int>)]) throws(LogError) {
        let streamName = log.layout.streamName(name, partition: partition)
        let sequence = UInt64(offset) + 1
        var cursor = cursors.withLock { cursors in cursors.removeValue(forKey: partition) }
        if let stale = cursor, stale.nextSequence != sequence {
            stale.close()
            cursor = nil
        }
        let current: NATSPullCursor
        if let cursor {
            current = cursor
        } else {
            current = try log.connection.makeCursor(stream: streamName, subject: log.layout.subject(name, partition: partition), startSequence: sequence)
            current.nextSequence = sequence
        }
        var fetched: [(sequence: UInt64, range: Range<Int>)] = []
        // A failed fetch (a first record larger than maxBytes, a consumer lost with its node) falls back to
        // the direct read below, which either succeeds or reports the real problem.
        try? log.connection.fetch(current, batch: count, maxBytes: maxBytes, into: &buffer, bodies: &fetched)
        // The consumer delivers in sequence order from its start; stop at anything unexpected.
        var expected = sequence
        for body in fetched {
            guard body.sequence == expected else { break }
            bodies.append((Int64(body.sequence) - 1, body.range))
            expected += 1
        }
        if bodies.isEmpty {
            buffer.removeAll(keepingCapacity: true)
            guard try log.connection.appendMessage(stream: streamName, sequence: sequence, to: &buffer) else {
                current.close()
                var error = LogError(code: .offsetOutOfRange, message: "JetStream no longer holds the record (retention removed it)")
                error.stream = name
                error.partition = partition
                error.offset = offset
                throw error
            }
            bodies.append((offset, 0..<buffer.count))
            // The consumer did not deliver this record, so it can no longer continue from here.
            current.close()
            return
        }
        if bodies.count == fetched.count {
            current.nextSequence = expected
            let displaced = cursors.withLock { cursors in
                defer { cursors[partition] = current }
                return cursors[partition]
            }
            displaced?.close()
        } else {
            current.close()
        }
    }

    public func read(partition: Int, from offset: Int64, limits: LogReadLimits) async throws -> LogReadResult {
        try await Blocking.run { try self.read(partition: partition, from: offset, limits: limits) }
    }

    public func waitForRecords(partition: Int, from offset: Int64, timeout: Duration) -> Bool {
        guard (0..<partitionCount).contains(partition) else { return false }
        if signals[partition].wait(for: offset, timeout: timeout) { return true }
        // Appends by another writer reach this process only through JetStream.
        return ((try? refreshOffsets(partition))?.highWatermark ?? 0) > offset
    }

    public func waitForRecords(partition: Int, from offset: Int64) async throws {
        try checkPartition(partition)
        try await signals[partition].wait(for: offset)
    }

    public func offset(partition: Int, atOrAfter time: Timestamp) throws(LogError) -> Int64 {
        let range = try refreshOffsets(partition)
        var offset = range.start
        while offset < range.highWatermark {
            let result = try read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 1000))
            var runningMaximum: Timestamp? = nil
            for record in result.records {
                if runningMaximum.map({ record.eventTime > $0 }) ?? true { runningMaximum = record.eventTime }
                if let runningMaximum, runningMaximum >= time { return record.offset }
            }
            offset = result.nextOffset
            if result.records.isEmpty { break }
        }
        return range.highWatermark
    }

    /// This process's view, without a network round trip (lag metrics call it from async code): kept current
    /// by its own appends, and refreshed from JetStream by opening the stream, by reads that reach the end, by
    /// `waitForRecords` with a timeout and by seeking by time.
    public func offsets(partition: Int) -> LogOffsetRange {
        guard (0..<partitionCount).contains(partition) else { return LogOffsetRange(start: 0, highWatermark: 0) }
        return offsets(cachedFor: partition)
    }

    /// JetStream numbers every message and cannot leave sequence numbers out, so a partition cannot be moved
    /// past offsets it never held; a replicated log does not lose its tail the way a single disk can.
    public func ensureNextOffset(partition: Int, atLeast offset: Int64, reason: String) throws(LogError) -> RecordedLoss? {
        let range = try refreshOffsets(partition)
        guard offset > range.highWatermark else { return nil }
        var error = LogError(code: .invalidArgument, message: "a consumer committed an offset beyond the end of the JetStream partition, which cannot skip offsets (\(reason))")
        error.stream = name
        error.partition = partition
        error.offset = offset
        throw error
    }

    // MARK: Consumer offsets

    public func commit(group: String, offsets: [Int: Int64]) throws(LogError) {
        let text = offsets.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        _ = try log.connection.publish(subject: log.layout.consumerSubject(name, group: group), body: Array(text.utf8))
    }

    public func committedOffsets(group: String) throws(LogError) -> [Int: Int64] {
        guard let body = try log.connection.lastMessage(
            stream: log.layout.consumerStreamName(name), subject: log.layout.consumerSubject(name, group: group)
        ) else { return [:] }
        var offsets: [Int: Int64] = [:]
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=")
            guard parts.count == 2, let partition = Int(parts[0]), let offset = Int64(parts[1]) else {
                var error = LogError(code: .invalidMetadata, message: "a consumer offsets message on JetStream could not be parsed")
                error.stream = name
                throw error
            }
            offsets[partition] = offset
        }
        return offsets
    }

    /// Kept in memory: this backend leaves retention to JetStream's own limits for now.
    public func registerProgress(consumer: String, offsets: [Int: Int64]) throws(LogError) {
        registeredProgress.withLock { $0[consumer] = offsets }
    }

    // MARK: Helpers

    func close() {
        for signal in signals { signal.close() }
        let open = cursors.withLock { cursors in
            defer { cursors = [:] }
            return Array(cursors.values)
        }
        for cursor in open { cursor.close() }
    }

    private func checkPartition(_ partition: Int) throws(LogError) {
        guard (0..<partitionCount).contains(partition) else {
            var error = LogError(code: .invalidArgument, message: "no such partition")
            error.stream = name
            error.partition = partition
            throw error
        }
    }

    private func offsets(cachedFor partition: Int) -> LogOffsetRange {
        partitionStates.withLock { states in
            let state = states[partition]
            // JetStream reports first sequence 0 for a stream that never held a message, and last + 1 for one
            // emptied by its limits.
            let start = min(max(state.firstSequence, 1) - 1, state.lastSequence)
            return LogOffsetRange(start: Int64(start), highWatermark: Int64(state.lastSequence))
        }
    }

    /// A replicated stream that reports fewer messages than it acknowledged has lost acknowledged records (a
    /// server fault: their MQTT messages were acknowledged too). Nothing can bring them back from here, so it
    /// is said loudly, once per partition and drop.
    private func reportLostAcknowledgements(partition: Int, info: JetStreamStreamInfo) {
        let acknowledged = partitionStates.withLock { states in
            defer { states[partition].acknowledgedSequence = min(states[partition].acknowledgedSequence, info.lastSequence) }
            return states[partition].acknowledgedSequence
        }
        guard info.lastSequence < acknowledged else { return }
        log.logger.error("JetStream reports fewer records than it acknowledged: acknowledged records are gone", metadata: [
            "kappa.stream": "\(name)", "kappa.partition": "\(partition)",
            "kappa.acknowledged_offsets": "..<\(acknowledged)", "kappa.high_watermark": "\(info.lastSequence)",
        ])
    }

    private func streamInfo(partition: Int) throws(LogError) -> JetStreamStreamInfo {
        let streamName = log.layout.streamName(name, partition: partition)
        guard let info = try log.connection.streamInfo(named: streamName) else {
            var error = LogError(code: .streamNotFound, message: "the partition's JetStream stream \(streamName) is gone")
            error.stream = name
            error.partition = partition
            throw error
        }
        return info
    }

    private func refreshOffsets(_ partition: Int) throws(LogError) -> LogOffsetRange {
        try checkPartition(partition)
        let info = try streamInfo(partition: partition)
        reportLostAcknowledgements(partition: partition, info: info)
        partitionStates.withLock { states in
            // An append may already know a higher sequence than this answer, which may come from a lagging view.
            states[partition].lastSequence = max(states[partition].lastSequence, info.lastSequence)
            states[partition].firstSequence = info.firstSequence
        }
        signals[partition].publish(highWatermark: Int64(info.lastSequence))
        return offsets(cachedFor: partition)
    }
}

extension Duration {
    var nanosecondsForDeadline: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
