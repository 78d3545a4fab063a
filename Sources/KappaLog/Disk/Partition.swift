import KappaCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One partition on disk: its segments, the writer lock, readers' snapshots, durability and waiters.
///
/// The writer holds `state`'s lock around `pwrite` so offsets and file positions advance together; encoding
/// and checksumming happen before, outside the lock, and fsync after it (group commit).
///
/// **A batch is checked once per process, not once per reader.** Every processor reads every record, and each
/// used to check each batch's checksum and record framing again. A read that checked batches records their
/// byte range in ``Segment/checked``; later reads of bytes inside it skip those two checks. The range lives
/// in memory only, so after a restart everything is checked again as it comes from the disk; what the
/// process trusts is only what it checked itself, and the bytes of a segment never change under a reader
/// (appends go past its end; a failed write is cut back to where readers stop).
final class Partition: Sendable {
    struct Segment: Sendable {
        var file: LogFile
        var index: SegmentIndex
        var openedAt: Int64
        /// Bytes of whole batches a read of this process checked (checksum and framing); one range, the
        /// newest, since readers move together along the tail.
        var checked: Range<Int64> = 0..<0
    }

    struct State: Sendable {
        /// Ascending by base offset; the last one is active. Empty only for a read-only partition without files.
        var segments: [Segment]
        /// Bytes appended since open: the group commit ticket.
        var appendedBytes: Int64 = 0
        var isClosed = false
        /// Offsets handed out once whose records are gone (see ``PartitionState``); gaps between segments.
        var losses: [RecordedLoss]
    }

    let stream: String
    let id: Int
    let directory: String
    let configuration: DiskLogConfiguration
    let logger: Logger
    let state: Mutex<State>
    let signal: AppendSignal
    let durability = DurabilityTracker()

    init(stream: String, id: Int, directory: String, configuration: DiskLogConfiguration, logger: Logger, segments: [Segment], losses: [RecordedLoss] = []) {
        self.stream = stream
        self.id = id
        self.directory = directory
        self.configuration = configuration
        self.logger = logger
        self.state = Mutex(State(segments: segments, losses: losses))
        self.signal = AppendSignal(highWatermark: segments.last?.index.nextOffset ?? 0)
    }

    private func error(_ code: LogError.Code, _ message: String, segment: Int64? = nil, offset: Int64? = nil, position: Int64? = nil) -> LogError {
        var error = LogError(code: code, message: message)
        error.stream = stream
        error.partition = id
        error.segment = segment
        error.offset = offset
        error.position = position
        return error
    }

    // MARK: Appending

    /// Writes one encoded batch (base offset filled in here) and returns its base offset and durability ticket.
    func append(_ batch: inout [UInt8], recordCount: Int) throws(LogError) -> (baseOffset: Int64, ticket: Int64) {
        let (baseOffset, ticket): (Int64, Int64) = try state.withLock { (state) throws(LogError) in
            guard !state.isClosed else { throw error(.closed, "the log was closed") }
            guard !configuration.readOnly else { throw error(.readOnly, "the log was opened read-only") }
            if shouldRoll(state.segments[state.segments.count - 1], adding: batch.count) {
                try roll(&state)
            }
            let last = state.segments.count - 1
            let position = state.segments[last].index.size
            let baseOffset = state.segments[last].index.nextOffset
            RecordBatch.setBaseOffset(baseOffset, in: &batch)
            do throws(LogError) {
                try state.segments[last].file.write(batch, at: position)
            } catch {
                // Leave no partial batch behind: the next append must start on a batch boundary.
                try? state.segments[last].file.truncate(to: position)
                throw error.located(stream: stream, partition: id)
            }
            let header = batch.withUnsafeBytes { raw in
                RecordBatchHeader(
                    length: raw.count,
                    baseOffset: baseOffset,
                    recordCount: recordCount,
                    minEventTime: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: Int64.self)),
                    maxEventTime: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 32, as: Int64.self))
                )
            }
            state.segments[last].index.batchAppended(header, at: position, intervalBytes: configuration.indexIntervalBytes)
            state.appendedBytes += Int64(batch.count)
            return (baseOffset, state.appendedBytes)
        }
        signal.publish(highWatermark: baseOffset + Int64(recordCount))
        return (baseOffset, ticket)
    }

    private func shouldRoll(_ active: Segment, adding bytes: Int) -> Bool {
        guard !active.index.isEmpty else { return false }
        if active.index.size + Int64(bytes) > configuration.segmentMaxBytes { return true }
        return MonotonicClock.nanoseconds() - active.openedAt >= configuration.segmentMaxAge.nanoseconds
    }

    /// Closes the active segment (synced, index persisted) and opens the next, at `baseOffset` when offsets
    /// are skipped. Rare, so it may block appenders.
    private func roll(_ state: inout State, to baseOffset: Int64? = nil) throws(LogError) {
        let active = state.segments[state.segments.count - 1]
        try active.file.sync()
        durability.markDurable(upTo: state.appendedBytes)
        try persistIndex(active.index)
        let next = try Self.createSegment(directory: directory, baseOffset: baseOffset ?? active.index.nextOffset)
        state.segments.append(next)
        logger.debug("segment rolled", metadata: [
            LoggingKeys.stream: "\(stream)", LoggingKeys.partition: "\(id)",
            LoggingKeys.segment: "\(next.index.baseOffset)",
        ])
    }

    private func persistIndex(_ index: SegmentIndex) throws(LogError) {
        try FileSystem.replaceAtomically(SegmentFiles.indexPath(directory: directory, baseOffset: index.baseOffset), with: index.serialized())
    }

    static func createSegment(directory: String, baseOffset: Int64) throws(LogError) -> Segment {
        let path = SegmentFiles.logPath(directory: directory, baseOffset: baseOffset)
        let file = try LogFile.open(path, flags: O_RDWR | O_CREAT | O_EXCL)
        try FileSystem.syncDirectory(containing: path)
        return Segment(file: file, index: SegmentIndex(baseOffset: baseOffset), openedAt: MonotonicClock.nanoseconds())
    }

    /// Syncs everything appended up to `ticket` (group commit with concurrent callers).
    func makeDurable(upTo ticket: Int64) throws(LogError) {
        try durability.makeDurable(upTo: ticket) { () throws(LogError) in
            try state.withLock { (state) throws(LogError) in
                guard let active = state.segments.last else { throw error(.closed, "the log was closed") }
                return (active.file, state.appendedBytes)
            }
        }
    }

    /// Syncs whatever is unsynced (the interval flusher and close).
    func flush() throws(LogError) {
        let ticket = state.withLock { $0.appendedBytes }
        try makeDurable(upTo: ticket)
    }

    var unsyncedBytes: Int64 {
        state.withLock { $0.appendedBytes } - durability.durableTicket
    }

    /// Syncs, refuses further appends, and marks the partition cleanly shut down (see ``PartitionState``):
    /// written only once every byte is synced, so the next open may call any damage corruption.
    func close() throws(LogError) {
        defer { signal.close() }
        guard !configuration.readOnly else { return }
        try flush()
        let closing: PartitionState? = state.withLock { state in
            guard !state.isClosed else { return nil }
            state.isClosed = true
            return PartitionState(nextOffset: state.segments.last?.index.nextOffset ?? 0, cleanShutdown: true, losses: state.losses)
        }
        try closing?.store(directory: directory)
    }

    // MARK: Offsets that must not come back

    /// Moves the next offset up to `offset` if it is lower, recording the offsets skipped as lost: for a
    /// consumer that committed records the log no longer has. Rolls to a segment starting at `offset`.
    func ensureNextOffset(atLeast offset: Int64, reason: String) throws(LogError) -> RecordedLoss? {
        let loss: RecordedLoss? = try state.withLock { (state) throws(LogError) in
            guard !state.isClosed else { throw error(.closed, "the log was closed") }
            guard !configuration.readOnly else { throw error(.readOnly, "the log was opened read-only") }
            let end = state.segments[state.segments.count - 1].index.nextOffset
            guard offset > end else { return nil }
            let loss = RecordedLoss(
                stream: stream, partition: id, offsets: end..<offset,
                detectedAt: Timestamp.now().nanosecondsSinceEpoch / 1_000_000_000, acknowledged: false, reason: reason
            )
            // Recorded first: a crash in between leaves a recorded loss and no gap, which opens fine.
            try PartitionState(nextOffset: offset, cleanShutdown: false, losses: state.losses + [loss]).store(directory: directory)
            state.losses.append(loss)
            try roll(&state, to: offset)
            return loss
        }
        guard let loss else { return nil }
        logger.error("the log lost acknowledged records; their offsets will not be reused", metadata: [
            LoggingKeys.stream: "\(stream)", LoggingKeys.partition: "\(id)",
            LoggingKeys.offset: "\(loss.offsets.lowerBound)..<\(loss.offsets.upperBound)", LoggingKeys.error: "\(reason)",
        ])
        signal.publish(highWatermark: offset)
        return loss
    }

    var losses: [RecordedLoss] {
        state.withLock { $0.losses }
    }

    /// Marks every recorded loss acknowledged (an operator has seen it); returns those that were not yet.
    func acknowledgeLosses() throws(LogError) -> [RecordedLoss] {
        try state.withLock { (state) throws(LogError) in
            guard !configuration.readOnly else { throw error(.readOnly, "the log was opened read-only") }
            let newly = state.losses.filter { !$0.acknowledged }
            guard !newly.isEmpty else { return [] }
            var losses = state.losses
            for index in losses.indices { losses[index].acknowledged = true }
            let next = state.segments.last?.index.nextOffset ?? 0
            try PartitionState(nextOffset: next, cleanShutdown: state.isClosed, losses: losses).store(directory: directory)
            state.losses = losses
            return newly
        }
    }

    // MARK: Reading

    var offsets: LogOffsetRange {
        state.withLock { state in
            LogOffsetRange(start: state.segments.first?.index.baseOffset ?? 0, highWatermark: state.segments.last?.index.nextOffset ?? 0)
        }
    }

    /// A segment file and a byte range of it to read, taken under the lock and read outside it.
    private struct ReadPlan {
        var file: LogFile
        var segment: Int64
        var position: Int64
        var end: Int64
        var checked: Range<Int64> = 0..<0
        /// Where the batches holding every record the read may return end (at most `end`): a read of
        /// `maxRecords` small records needs far fewer bytes than `maxBytes`.
        var wantedEnd: Int64 = .max
    }

    func read(from offset: Int64, limits: LogReadLimits) throws(LogError) -> LogReadResult {
        let plan: (ReadPlan?, Int64)? = try state.withLock { (state) throws(LogError) in
            let start = state.segments.first?.index.baseOffset ?? 0
            let highWatermark = state.segments.last?.index.nextOffset ?? 0
            guard offset >= start, offset <= highWatermark else {
                var failure = error(.offsetOutOfRange, "offset outside the partition's range \(start)..<\(highWatermark)", offset: offset)
                failure.offset = offset
                throw failure
            }
            guard offset < highWatermark else { return nil }
            var number = Self.segmentIndex(containing: offset, in: state.segments)
            var from = offset
            // Lost offsets lie between segments: reading into them goes on at the next segment's first record.
            while from >= state.segments[number].index.nextOffset, number + 1 < state.segments.count {
                number += 1
                from = state.segments[number].index.baseOffset
            }
            let segment = state.segments[number]
            guard from < segment.index.nextOffset else { return (nil, from) }
            let wantedEnd = segment.index.position(after: from + Int64(limits.maxRecords) - 1)
            return (ReadPlan(file: segment.file, segment: segment.index.baseOffset, position: segment.index.position(forOffset: from), end: segment.index.size,
                             checked: segment.checked, wantedEnd: wantedEnd), from)
        }
        guard let (plan, from) = plan else { return LogReadResult(records: [], nextOffset: offset) }
        guard let plan else { return LogReadResult(records: [], nextOffset: from) }
        return try read(plan, from: from, limits: limits)
    }

    private static func segmentIndex(containing offset: Int64, in segments: [Segment]) -> Int {
        // Last segment whose base offset is <= offset.
        var low = 0
        var high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].index.baseOffset <= offset { low = middle + 1 } else { high = middle }
        }
        return max(0, low - 1)
    }

    private func read(_ plan: ReadPlan, from offset: Int64, limits: LogReadLimits) throws(LogError) -> LogReadResult {
        var position = plan.position
        let first = min(plan.end, plan.wantedEnd) - position
        var buffer = try plan.file.read(count: Int(min(first, Int64(limits.maxBytes + configuration.indexIntervalBytes))), at: position)
        var records: [LogRecord] = []
        var cursor = 0
        var nextOffset = offset
        var bytesReturned = 0
        // The whole batches this read went over (from its first), and whether it checked any the process had not.
        var covered = plan.position..<plan.position
        var checkedNew = false
        defer { if checkedNew { recordChecked(covered, segment: plan.segment) } }
        scan: while cursor < buffer.count, records.count < limits.maxRecords {
            let batchStart = position + Int64(cursor)
            var trusted = false
            let parse = buffer.withUnsafeBytes {
                RecordBatch.parse($0, at: cursor, expectedBaseOffset: nil, maxBatchBytes: configuration.maxBatchBytes) { length in
                    trusted = plan.checked.contains(batchStart) && batchStart + Int64(length) <= plan.checked.upperBound
                    return trusted
                }
            }
            if case .valid(let header) = parse {
                covered = covered.lowerBound..<(batchStart + Int64(header.length))
                if !trusted { checkedNew = true }
            }
            switch parse {
            case .incomplete(let needed):
                guard records.isEmpty else { break scan }
                // The first wanted batch is larger than the read: read it whole.
                position += Int64(cursor)
                buffer = try plan.file.read(count: Int(min(plan.end - position, Int64(needed))), at: position)
                cursor = 0
                if buffer.count < needed { throw error(.corruption, "batch extends past the segment's valid end", segment: plan.segment, position: position) }
                continue
            case .corrupt(let reason):
                throw error(.corruption, "corrupt batch while reading: \(reason)", segment: plan.segment, offset: nextOffset, position: position + Int64(cursor))
            case .valid(let header):
                if header.nextOffset <= offset {
                    cursor += header.length
                    continue
                }
                if !records.isEmpty, bytesReturned + header.length > limits.maxBytes { return LogReadResult(records: records, nextOffset: nextOffset) }
                let shared = buffer
                let framed = buffer.withUnsafeBytes { raw in
                    RecordBatch.forEachRecord(raw, batchAt: cursor, header: header) { index, time, key, value in
                        let recordOffset = header.baseOffset + Int64(index)
                        guard recordOffset >= offset, records.count < limits.maxRecords else { return }
                        records.append(LogRecord(offset: recordOffset, eventTime: .init(nanosecondsSinceEpoch: time), key: shared[key], value: shared[value]))
                    }
                }
                guard framed else { throw error(.corruption, "record framing does not match its batch", segment: plan.segment, position: position + Int64(cursor)) }
                nextOffset = records.last.map { $0.offset + 1 } ?? nextOffset
                bytesReturned += header.length
                cursor += header.length
            }
        }
        return LogReadResult(records: records, nextOffset: nextOffset)
    }

    /// Adds batches a read checked to what the process trusts: joined to the known range when they meet it,
    /// else in its place when they lie beyond it (the tail, where readers are).
    private func recordChecked(_ range: Range<Int64>, segment base: Int64) {
        state.withLock { state in
            let number = Self.segmentIndex(containing: base, in: state.segments)
            guard number < state.segments.count, state.segments[number].index.baseOffset == base else { return }
            let known = state.segments[number].checked
            if range.lowerBound <= known.upperBound, known.lowerBound <= range.upperBound, !known.isEmpty {
                state.segments[number].checked = min(known.lowerBound, range.lowerBound)..<max(known.upperBound, range.upperBound)
            } else if range.upperBound > known.upperBound {
                state.segments[number].checked = range
            }
        }
    }

    /// The first offset whose running maximum event time reaches `time`, or the high watermark.
    func offset(atOrAfter time: Int64) throws(LogError) -> Int64 {
        let found: (ReadPlan, Int64)? = state.withLock { state in
            guard let segment = state.segments.first(where: { $0.index.maxEventTime >= time }) else { return nil }
            let plan = ReadPlan(file: segment.file, segment: segment.index.baseOffset, position: segment.index.position(forTime: time), end: segment.index.size)
            return (plan, segment.index.nextOffset)
        }
        guard let (plan, segmentEnd) = found else { return offsets.highWatermark }
        var position = plan.position
        while position < plan.end {
            let head = try plan.file.read(count: RecordBatch.headerSize, at: position)
            let length = head.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
            let maxTime = head.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(fromByteOffset: 32, as: Int64.self)) }
            guard length >= RecordBatch.headerSize else { throw error(.corruption, "invalid batch length", segment: plan.segment, position: position) }
            if maxTime >= time {
                let batch = try plan.file.read(count: length, at: position)
                var answer: Int64?
                let valid = batch.withUnsafeBytes { raw -> Bool in
                    guard case .valid(let header) = RecordBatch.parse(raw, at: 0, expectedBaseOffset: nil, maxBatchBytes: configuration.maxBatchBytes) else { return false }
                    RecordBatch.forEachRecord(raw, batchAt: 0, header: header) { index, eventTime, _, _ in
                        if answer == nil, eventTime >= time { answer = header.baseOffset + Int64(index) }
                    }
                    return true
                }
                guard valid, let answer else { throw error(.corruption, "corrupt batch while seeking by time", segment: plan.segment, position: position) }
                return answer
            }
            position += Int64(length)
        }
        return segmentEnd
    }

    // MARK: Inspecting and retention

    struct Summary: Sendable {
        var offsets: LogOffsetRange
        var segmentCount: Int
        var bytes: Int64
        var minEventTime: Int64?
        var maxEventTime: Int64?
    }

    var summary: Summary {
        state.withLock { state in
            let minTime = state.segments.map(\.index.minEventTime).min() ?? .max
            let maxTime = state.segments.map(\.index.maxEventTime).max() ?? .min
            return Summary(
                offsets: LogOffsetRange(start: state.segments.first?.index.baseOffset ?? 0, highWatermark: state.segments.last?.index.nextOffset ?? 0),
                segmentCount: state.segments.count,
                bytes: state.segments.reduce(0) { $0 + $1.index.size },
                minEventTime: minTime == .max ? nil : minTime,
                maxEventTime: maxTime == .min ? nil : maxTime
            )
        }
    }

    /// Deletes whole closed segments from the front while the policy asks, never past `lowestNeeded` unless `force`.
    func applyRetention(_ policy: RetentionPolicy, lowestNeeded: Int64?, force: Bool, nowWallNanoseconds: Int64) throws(LogError) -> [Int64] {
        let removed: [Segment] = try state.withLock { (state) throws(LogError) in
            guard !configuration.readOnly else { throw error(.readOnly, "the log was opened read-only") }
            var total = state.segments.reduce(0) { $0 + $1.index.size }
            var removed: [Segment] = []
            while state.segments.count > 1 {
                let oldest = state.segments[0]
                var expired = false
                if let maxAge = policy.maxAge {
                    let modified = try FileSystem.modificationTime(oldest.file.path)
                    expired = nowWallNanoseconds - modified >= maxAge.nanoseconds
                }
                if let maxBytes = policy.maxBytesPerPartition, total > maxBytes { expired = true }
                guard expired else { break }
                guard force || lowestNeeded.map({ oldest.index.nextOffset <= $0 }) ?? true else { break }
                removed.append(state.segments.removeFirst())
                total -= oldest.index.size
            }
            return removed
        }
        for segment in removed {
            try FileSystem.remove(segment.file.path)
            try FileSystem.remove(SegmentFiles.indexPath(directory: directory, baseOffset: segment.index.baseOffset))
            logger.info("retention deleted segment", metadata: [
                LoggingKeys.stream: "\(stream)", LoggingKeys.partition: "\(id)",
                LoggingKeys.segment: "\(segment.index.baseOffset)", LoggingKeys.bytes: "\(segment.index.size)",
            ])
        }
        return removed.map(\.index.baseOffset)
    }
}
