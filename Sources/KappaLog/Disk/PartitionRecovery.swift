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

extension Partition {
    /// Opens a partition directory, recovering its tail.
    ///
    /// Closed segments are trusted when their persisted index matches their size, otherwise rescanned (they were
    /// synced before their index was written, at roll). The last segment is always scanned to its end: a torn or corrupt tail with no valid batch after it is truncated (unless
    /// read-only) and returned; a bad batch followed by valid ones is corruption in the middle and throws.
    static func open(
        stream: String,
        id: Int,
        directory: String,
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

        var segments: [Segment] = []
        var truncation: TailTruncation?
        for (number, baseOffset) in baseOffsets.enumerated() {
            let isLast = number == baseOffsets.count - 1
            let path = SegmentFiles.logPath(directory: directory, baseOffset: baseOffset)
            let file = try LogFile.open(path, flags: configuration.readOnly ? O_RDONLY : O_RDWR)
            if let previous = segments.last, previous.index.nextOffset != baseOffset {
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
                truncation = TailTruncation(
                    stream: stream, partition: id, segment: baseOffset, position: position,
                    bytesRemoved: outcome.fileSize - position, reason: reason
                )
                if !configuration.readOnly {
                    try file.truncate(to: position)
                    try file.sync()
                    logger.warning("truncated a torn or corrupt tail", metadata: [
                        LoggingKeys.stream: "\(stream)", LoggingKeys.partition: "\(id)",
                        LoggingKeys.segment: "\(baseOffset)", LoggingKeys.position: "\(position)",
                        LoggingKeys.bytes: "\(outcome.fileSize - position)", LoggingKeys.error: "\(reason)",
                    ])
                }
            }
            if !isLast, !configuration.readOnly {
                // The index was missing or stale: persist the rebuilt one.
                try FileSystem.replaceAtomically(SegmentFiles.indexPath(directory: directory, baseOffset: baseOffset), with: outcome.index.serialized())
            }
            segments.append(Segment(file: file, index: outcome.index, openedAt: MonotonicClock.nanoseconds()))
        }
        if segments.isEmpty, !configuration.readOnly {
            segments.append(try createSegment(directory: directory, baseOffset: 0))
        }
        if let active = segments.last, !configuration.readOnly {
            // The active segment's index changes with every append; a persisted copy would only go stale.
            try FileSystem.remove(SegmentFiles.indexPath(directory: directory, baseOffset: active.index.baseOffset))
        }
        let partition = Partition(stream: stream, id: id, directory: directory, configuration: configuration, logger: logger, segments: segments)
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
                let next = state.segments.last?.index.nextOffset ?? 0
                let path = SegmentFiles.logPath(directory: directory, baseOffset: next)
                guard FileSystem.exists(path), state.segments.last?.index.baseOffset != next || state.segments.isEmpty else { break }
                let file = try LogFile.open(path, flags: O_RDONLY)
                state.segments.append(Segment(file: file, index: SegmentIndex(baseOffset: next), openedAt: MonotonicClock.nanoseconds()))
            }
            return state.segments.last?.index.nextOffset ?? 0
        }
        signal.publish(highWatermark: highWatermark)
    }
}
