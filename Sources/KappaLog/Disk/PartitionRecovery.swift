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

/// A torn or corrupt tail that recovery cut off when the log was opened.
public struct TailTruncation: Sendable, Hashable, CustomStringConvertible {
    public var stream: String
    public var partition: Int
    /// Base offset of the segment that was cut.
    public var segment: Int64
    /// The file position the segment was cut to (the end of its last valid batch).
    public var position: Int64
    public var bytesRemoved: Int64
    public var reason: String

    public var description: String {
        "\(stream)/\(partition) segment \(segment): cut \(bytesRemoved) bytes at position \(position) (\(reason))"
    }
}

/// What follows the valid batches of a partition's last segment.
enum TailVerdict: Equatable {
    case intact
    /// An incomplete last batch (or zeros where it should be) after a crash: its write never finished, so
    /// nothing in it was acknowledged. Cut with a warning.
    case torn(position: Int64, reason: String)
    /// Damage a crash does not explain (any damage after a clean shutdown, a complete batch failing its
    /// checksum otherwise): acknowledged records are gone. `claimedRecords` is how many the damaged batch's
    /// header says it held, bounded by its size (at least 1): the loss when nothing else knows better.
    case corrupt(position: Int64, reason: String, claimedRecords: Int64)
}

extension Partition {
    /// Tells a torn tail from corruption at the end of a last segment whose scan stopped at `stop`.
    ///
    /// After a clean shutdown every byte was synced before the mark was written, so nothing may be missing or
    /// damaged: any problem is corruption. After a crash, a batch the file ends inside of is a write cut short
    /// (as are zeros, which a file system may leave in a block it extended but never wrote); a batch that is
    /// all there but fails its checks was damaged after it was written.
    static func classifyTail(
        _ stop: SegmentScanner.Stop,
        file: LogFile,
        fileSize: Int64,
        afterCleanShutdown: Bool,
        maxBatchBytes: Int
    ) throws(LogError) -> TailVerdict {
        let position: Int64
        var reason: String
        var incomplete = false
        switch stop {
        case .endOfFile:
            return .intact
        case .torn(let at):
            position = at
            reason = "the file ends inside the last batch"
            incomplete = true
        case .corrupt(let at, let why):
            position = at
            reason = why
        }
        let rest = try file.read(count: Int(min(fileSize - position, Int64(maxBatchBytes))), at: position)
        let allZero = rest.allSatisfy { $0 == 0 }
        if !afterCleanShutdown, incomplete || allZero {
            return .torn(position: position, reason: allZero ? "zeros after the last batch" : reason)
        }
        if afterCleanShutdown { reason += " after a clean shutdown" }
        var claimed: Int64 = 1
        if rest.count >= RecordBatch.headerSize + 3 {
            let count = rest.withUnsafeBytes { Int64(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 20, as: UInt32.self))) }
            // Every record takes at least three bytes (three varints).
            let bound = max(1, Int64(rest.count - RecordBatch.headerSize) / 3)
            claimed = min(max(count, 1), bound)
        }
        return .corrupt(position: position, reason: reason, claimedRecords: claimed)
    }

    /// Opens a partition directory, recovering its tail.
    ///
    /// Closed segments are trusted when their persisted index matches their size, otherwise rescanned (they were
    /// synced before their index was written, at roll). The last segment is always scanned to its end; what
    /// follows its valid batches is classified by ``classifyTail(_:file:fileSize:afterCleanShutdown:maxBatchBytes:)``.
    /// A torn tail is truncated and returned. A corrupt tail is truncated too, and the offsets it held are
    /// recorded as lost and never handed out again: the partition goes on after the highest offset it ever
    /// handed out (its `partition.state`) or any consumer committed (`committedFloor`), whichever is higher.
    /// A bad batch followed by valid ones is corruption in the middle and throws. Read-only opens change nothing.
    static func open(
        stream: String,
        id: Int,
        directory: String,
        committedFloor: Int64,
        configuration: DiskLogConfiguration,
        logger: Logger
    ) throws(LogError) -> (Partition, TailTruncation?) {
        func corruption(_ message: String, segment: Int64, position: Int64? = nil) -> LogError {
            var error = LogError(code: .corruption, message: message)
            error.stream = stream
            error.partition = id
            error.segment = segment
            error.position = position
            error.path = SegmentFiles.logPath(directory: directory, baseOffset: segment)
            return error
        }

        if !configuration.readOnly { try FileSystem.makeDirectory(directory) }
        let exists = FileSystem.exists(directory)
        let baseOffsets = exists ? try SegmentFiles.baseOffsets(in: directory) : []
        if !configuration.readOnly { try removeLeftovers(in: directory, keeping: Set(baseOffsets)) }
        let stored = exists ? try PartitionState.load(directory: directory, stream: stream, partition: id) : nil
        var losses = stored?.losses ?? []
        let afterCleanShutdown = stored?.cleanShutdown ?? false

        var segments: [Segment] = []
        var truncation: TailTruncation?
        var corruptTail: (reason: String, claimedRecords: Int64)?
        for (number, baseOffset) in baseOffsets.enumerated() {
            let isLast = number == baseOffsets.count - 1
            let path = SegmentFiles.logPath(directory: directory, baseOffset: baseOffset)
            let file = try LogFile.open(path, flags: configuration.readOnly ? O_RDONLY : O_RDWR)
            if let previous = segments.last, previous.index.nextOffset != baseOffset,
               !losses.contains(where: { $0.offsets == previous.index.nextOffset..<baseOffset })
            {
                throw corruption("segment does not start where the previous one ends (\(previous.index.nextOffset))", segment: baseOffset)
            }
            let fileSize = try file.size()
            // The last segment is always scanned: it is where a crash leaves a torn write.
            if !isLast, let stored = try? FileSystem.readFile(SegmentFiles.indexPath(directory: directory, baseOffset: baseOffset)),
               let index = SegmentIndex.deserialize(stored, baseOffset: baseOffset), index.size == fileSize
            {
                segments.append(Segment(file: file, index: index, openedAt: MonotonicClock.nanoseconds()))
                continue
            }
            let outcome = try SegmentScanner.scan(
                file, continuing: SegmentIndex(baseOffset: baseOffset),
                intervalBytes: configuration.indexIntervalBytes, maxBatchBytes: configuration.maxBatchBytes
            )
            switch outcome.stop {
            case .endOfFile:
                break
            case .torn(let position), .corrupt(let position, _):
                let reason: String
                if case .corrupt(_, let why) = outcome.stop { reason = why } else { reason = "torn write" }
                if let valid = try SegmentScanner.firstValidBatch(in: file, after: position, maxBatchBytes: configuration.maxBatchBytes) {
                    throw corruption("corrupt batch (\(reason)) followed by a valid batch at position \(valid)", segment: baseOffset, position: position)
                }
                guard isLast else {
                    throw corruption("closed segment ends with an invalid batch (\(reason))", segment: baseOffset, position: position)
                }
                let verdict = try classifyTail(
                    outcome.stop, file: file, fileSize: outcome.fileSize,
                    afterCleanShutdown: afterCleanShutdown, maxBatchBytes: configuration.maxBatchBytes
                )
                let why: String
                switch verdict {
                case .intact:
                    why = reason
                case .torn(_, let tornReason):
                    why = tornReason
                case .corrupt(_, let corruptReason, let claimed):
                    why = corruptReason
                    corruptTail = (corruptReason, claimed)
                }
                truncation = TailTruncation(
                    stream: stream, partition: id, segment: baseOffset, position: position,
                    bytesRemoved: outcome.fileSize - position, reason: why
                )
                if !configuration.readOnly {
                    try file.truncate(to: position)
                    try file.sync()
                    if corruptTail == nil {
                        logger.warning("truncated a torn tail", metadata: [
                            LoggingKeys.stream: "\(stream)", LoggingKeys.partition: "\(id)",
                            LoggingKeys.segment: "\(baseOffset)", LoggingKeys.position: "\(position)",
                            LoggingKeys.bytes: "\(outcome.fileSize - position)", LoggingKeys.error: "\(why)",
                        ])
                    }
                }
            }
            if !isLast, !configuration.readOnly {
                // The index was missing or stale: persist the rebuilt one.
                try FileSystem.replaceAtomically(SegmentFiles.indexPath(directory: directory, baseOffset: baseOffset), with: outcome.index.serialized())
            }
            segments.append(Segment(file: file, index: outcome.index, openedAt: MonotonicClock.nanoseconds()))
        }

        // Offsets handed out before must not be handed out again, whatever recovery had to cut.
        let validEnd = segments.last?.index.nextOffset ?? 0
        var floor = max(stored?.nextOffset ?? 0, committedFloor)
        // After a clean shutdown the mark knows exactly; otherwise the damaged batch's header is the best guess.
        if let corruptTail, !afterCleanShutdown { floor = max(floor, validEnd + corruptTail.claimedRecords) }
        var newLoss: RecordedLoss?
        // Already recorded when a crash came between recording a loss and creating the segment after it.
        let recorded = losses.contains { $0.offsets == validEnd..<floor }
        if floor > validEnd, !recorded {
            var reason = corruptTail.map { "corrupt tail cut by recovery (\($0.reason))" } ?? ""
            if corruptTail == nil {
                reason = afterCleanShutdown
                    ? "records missing after a clean shutdown"
                    : (floor == committedFloor ? "a consumer committed offsets beyond the end of the log" : "records missing from the end of the log")
            }
            let loss = RecordedLoss(
                stream: stream, partition: id, offsets: validEnd..<floor,
                detectedAt: Timestamp.now().nanosecondsSinceEpoch / 1_000_000_000, acknowledged: false, reason: reason
            )
            newLoss = loss
            logger.error("the log lost acknowledged records; their offsets will not be reused", metadata: [
                LoggingKeys.stream: "\(stream)", LoggingKeys.partition: "\(id)",
                LoggingKeys.offset: "\(validEnd)..<\(floor)", LoggingKeys.error: "\(reason)",
            ])
        }

        if configuration.readOnly {
            let partition = Partition(stream: stream, id: id, directory: directory, configuration: configuration, logger: logger, segments: segments, losses: losses + (newLoss.map { [$0] } ?? []))
            return (partition, truncation)
        }
        if let newLoss {
            // Recorded before the gap exists: a gap between segments that no recorded loss explains is corruption.
            losses.append(newLoss)
            try PartitionState(nextOffset: floor, cleanShutdown: false, losses: losses).store(directory: directory)
        }
        if segments.isEmpty {
            segments.append(try createSegment(directory: directory, baseOffset: floor > validEnd ? floor : 0))
        } else if floor > validEnd {
            // The lost offsets stay a gap between two segments: the next segment starts after them.
            try FileSystem.replaceAtomically(SegmentFiles.indexPath(directory: directory, baseOffset: segments[segments.count - 1].index.baseOffset), with: segments[segments.count - 1].index.serialized())
            try segments[segments.count - 1].file.sync()
            segments.append(try createSegment(directory: directory, baseOffset: floor))
        }
        if let active = segments.last {
            // The active segment's index changes with every append; a persisted copy would only go stale.
            try FileSystem.remove(SegmentFiles.indexPath(directory: directory, baseOffset: active.index.baseOffset))
        }
        // Written before any append: from now on, until a clean close, damage at the end may be a torn write.
        let highWatermark = segments.last?.index.nextOffset ?? 0
        try PartitionState(nextOffset: highWatermark, cleanShutdown: false, losses: losses).store(directory: directory)
        let partition = Partition(stream: stream, id: id, directory: directory, configuration: configuration, logger: logger, segments: segments, losses: losses)
        return (partition, truncation)
    }

    /// Index files without a segment (retention died between the two unlinks) and temporary files.
    private static func removeLeftovers(in directory: String, keeping baseOffsets: Set<Int64>) throws(LogError) {
        for name in try FileSystem.contents(of: directory) {
            if name.hasSuffix(".tmp") {
                try FileSystem.remove("\(directory)/\(name)")
            } else if name.hasSuffix(SegmentFiles.indexSuffix),
                      let base = Int64(name.dropLast(SegmentFiles.indexSuffix.count)), !baseOffsets.contains(base)
            {
                try FileSystem.remove("\(directory)/\(name)")
            }
        }
    }

    /// For a read-only partition: picks up batches and segments another process appended since the last look.
    func refreshFromDisk() throws(LogError) {
        let highWatermark: Int64 = try state.withLock { (state) throws(LogError) in
            while true {
                if var active = state.segments.last {
                    let outcome = try SegmentScanner.scan(
                        active.file, continuing: active.index,
                        intervalBytes: configuration.indexIntervalBytes, maxBatchBytes: configuration.maxBatchBytes
                    )
                    active.index = outcome.index
                    state.segments[state.segments.count - 1] = active
                }
                // The next segment usually starts where the last one ends, but later after lost offsets.
                let last = state.segments.last?.index.baseOffset
                guard FileSystem.exists(directory),
                      let next = try SegmentFiles.baseOffsets(in: directory).first(where: { $0 > (last ?? -1) })
                else { break }
                let path = SegmentFiles.logPath(directory: directory, baseOffset: next)
                let file = try LogFile.open(path, flags: O_RDONLY)
                state.segments.append(Segment(file: file, index: SegmentIndex(baseOffset: next), openedAt: MonotonicClock.nanoseconds()))
            }
            return state.segments.last?.index.nextOffset ?? 0
        }
        signal.publish(highWatermark: highWatermark)
    }
}
