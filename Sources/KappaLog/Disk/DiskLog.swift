import Dispatch
public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded partitioned log: streams in a data directory on local disk.
///
/// Layout: `DIR/<stream>/stream.meta`, `DIR/<stream>/p<NNNN>/<base offset>.log|.index`,
/// `DIR/<stream>/p<NNNN>/partition.state` (clean-shutdown mark, highest offset handed out, lost ranges),
/// `DIR/<stream>/consumers/<group>.offsets`. Opening recovers every partition (see ``recoveredTails``).
/// A writable log holds an exclusive lock on `DIR/.lock`; read-only opens (for inspection) take none.
/// Call ``close()`` when done: it syncs, persists indexes and stops the background thread.
public final class DiskLog: PartitionedLog {
    public typealias Stream = DiskStream

    public let directory: String
    public let configuration: DiskLogConfiguration
    private let logger: Logger
    private let streams: StreamRegistry
    private let truncations: Mutex<[TailTruncation]>
    private let diskGuard: DiskSpaceGuard
    private let flusher = BackgroundFlusher()
    private let readQueue = DispatchQueue(label: "kappa.log.read", attributes: .concurrent)
    private let directoryLock: LogFile?
    private let isClosed = Atomic(false)

    public init(directory: String, configuration: DiskLogConfiguration = DiskLogConfiguration(), logger: Logger) throws(LogError) {
        self.directory = directory
        self.configuration = configuration
        self.logger = logger
        self.diskGuard = DiskSpaceGuard(path: directory, floorBytes: configuration.diskFloorBytes)
        self.streams = StreamRegistry()
        self.truncations = Mutex([])
        if configuration.readOnly {
            directoryLock = nil
        } else {
            try FileSystem.makeDirectories(directory)
            let lock = try LogFile.open("\(directory)/.lock", flags: O_RDWR | O_CREAT)
            if flock(lock.descriptor, LOCK_EX | LOCK_NB) != 0 {
                var error = LogError(code: .directoryInUse, message: "another process has this log open for writing")
                error.path = directory
                error.errno = errno
                throw error
            }
            directoryLock = lock
        }
        for name in try streamNames() {
            _ = try openStream(named: name)
        }
        guard !configuration.readOnly else { return }
        var flushInterval: Duration?
        if case .interval(let interval, _) = configuration.fsync { flushInterval = interval }
        let retention = configuration.retention
        try flusher.start(
            flushInterval: flushInterval,
            periodicInterval: retention.checkInterval,
            flush: { [streams, logger] in
                for stream in streams.all {
                    for partition in stream.partitions {
                        do { try partition.flush() } catch {
                            logger.error("background fsync failed", metadata: [
                                LoggingKeys.stream: "\(stream.name)", LoggingKeys.partition: "\(partition.id)", LoggingKeys.error: "\(error)",
                            ])
                        }
                    }
                }
            },
            periodic: { [streams, logger] in
                for stream in streams.all {
                    do { _ = try stream.applyRetention(retention, force: false) } catch {
                        logger.error("retention failed", metadata: [LoggingKeys.stream: "\(stream.name)", LoggingKeys.error: "\(error)"])
                    }
                }
            }
        )
    }

    deinit {
        close()
    }

    /// Stops the background thread, syncs every partition, persists active indexes and wakes waiting readers
    /// with ``LogError/Code/closed``. Idempotent.
    public func close() {
        guard !isClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        flusher.stop()
        for stream in streams.all {
            for partition in stream.partitions {
                do { try partition.close() } catch {
                    logger.error("closing a partition failed", metadata: [
                        LoggingKeys.stream: "\(stream.name)", LoggingKeys.partition: "\(partition.id)", LoggingKeys.error: "\(error)",
                    ])
                }
            }
        }
        if let directoryLock { flock(directoryLock.descriptor, LOCK_UN) }
    }

    /// Free disk space below which appends are refused (`belowDiskFloor`); starts as the configuration's
    /// `diskFloorBytes` and may be changed while the log runs (0 turns the check off).
    public var diskFloorBytes: Int64 {
        get { diskGuard.floorBytes }
        set { diskGuard.floorBytes = newValue }
    }

    /// Torn or corrupt tails cut off when streams were opened (also logged as warnings).
    public var recoveredTails: [TailTruncation] {
        truncations.withLock { $0 }
    }

    /// How many tails recovery cut off since this log was opened.
    public var truncatedTailCount: Int {
        truncations.withLock { $0.count }
    }

    /// Every loss of acknowledged records the open streams ever recorded (see ``RecordedLoss``), ordered by
    /// stream, partition and offset; those not yet acknowledged make `kappa log verify` fail and /readyz not ready.
    public var recordedLosses: [RecordedLoss] {
        streams.all.sorted { $0.name < $1.name }.flatMap { stream in stream.partitions.flatMap(\.losses) }
    }

    /// Marks every recorded loss of the open streams acknowledged; returns those that were not yet.
    public func acknowledgeLosses() throws(LogError) -> [RecordedLoss] {
        var acknowledged: [RecordedLoss] = []
        for stream in streams.all.sorted(by: { $0.name < $1.name }) {
            for partition in stream.partitions { acknowledged += try partition.acknowledgeLosses() }
        }
        return acknowledged
    }

    public func streamNames() throws(LogError) -> [String] {
        guard FileSystem.exists(directory) else { return [] }
        return try FileSystem.contents(of: directory).filter { name in
            !name.hasPrefix(".") && FileSystem.exists("\(directory)/\(name)/\(StreamMetadata.fileName)")
        }
    }

    public func createStream(named name: String, partitionCount: Int) throws(LogError) -> DiskStream {
        try LogNames.validate(name, what: "stream")
        guard (1...4096).contains(partitionCount) else {
            throw LogError(code: .invalidArgument, message: "a stream has 1 to 4096 partitions")
        }
        let metadataPath = "\(directory)/\(name)/\(StreamMetadata.fileName)"
        if !FileSystem.exists(metadataPath) {
            guard !configuration.readOnly else { throw LogError(code: .readOnly, message: "the log was opened read-only") }
            try FileSystem.makeDirectory("\(directory)/\(name)")
            try FileSystem.replaceAtomically(metadataPath, with: StreamMetadata(partitionCount: partitionCount).serialized())
        }
        let stream = try openStream(named: name)
        guard stream.partitionCount == partitionCount else {
            var error = LogError(code: .streamMismatch, message: "the stream exists with \(stream.partitionCount) partitions, not \(partitionCount)")
            error.stream = name
            throw error
        }
        return stream
    }

    public func openStream(named name: String) throws(LogError) -> DiskStream {
        try LogNames.validate(name, what: "stream")
        guard !isClosed.load(ordering: .acquiring) else { throw LogError(code: .closed, message: "the log was closed") }
        return try streams.open.withLock { (streams) throws(LogError) in
            if let open = streams[name] { return open }
            let streamDirectory = "\(directory)/\(name)"
            let metadataPath = "\(streamDirectory)/\(StreamMetadata.fileName)"
            guard FileSystem.exists(metadataPath) else {
                var error = LogError(code: .streamNotFound, message: "no such stream")
                error.stream = name
                throw error
            }
            let metadata = try StreamMetadata.parse(FileSystem.readFile(metadataPath), path: metadataPath)
            let consumers = try ConsumerOffsetStore(directory: "\(streamDirectory)/consumers", readOnly: configuration.readOnly)
            var partitions: [Partition] = []
            for id in 0..<metadata.partitionCount {
                let (partition, truncation) = try Partition.open(
                    stream: name, id: id, directory: "\(streamDirectory)/\(Self.partitionDirectoryName(id))",
                    committedFloor: consumers.highestCommitted(partition: id) ?? 0,
                    configuration: configuration, logger: logger
                )
                partitions.append(partition)
                if let truncation { truncations.withLock { $0.append(truncation) } }
            }
            let stream = DiskStream(
                name: name, directory: streamDirectory, partitions: partitions,
                consumers: consumers,
                configuration: configuration, diskGuard: diskGuard, readQueue: readQueue,
                flushSoon: { [flusher] in flusher.requestFlush() }
            )
            streams[name] = stream
            return stream
        }
    }

    static func partitionDirectoryName(_ id: Int) -> String {
        let digits = String(id)
        return "p" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Applies the retention policy now. `force` deletes even what registered consumers have not committed.
    @discardableResult
    public func applyRetention(force: Bool = false) throws(LogError) -> [RetentionDeletion] {
        var deletions: [RetentionDeletion] = []
        for stream in streams.all {
            deletions += try stream.applyRetention(configuration.retention, force: force)
        }
        return deletions
    }

    /// For a read-only log: picks up what a writing process appended since the last look (for `kappa log tail`).
    public func refreshFromDisk() throws(LogError) {
        for stream in streams.all {
            for partition in stream.partitions { try partition.refreshFromDisk() }
        }
    }
}

/// The open streams, shared with the background thread (which must not keep the ``DiskLog`` alive).
private final class StreamRegistry: Sendable {
    let open = Mutex<[String: DiskStream]>([:])

    var all: [DiskStream] {
        open.withLock { Array($0.values) }
    }
}
