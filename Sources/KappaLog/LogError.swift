/// An error from the partitioned log.
///
/// Match on ``code`` (it is extensible, so switch with a `default`); the other properties are context for the
/// message and for operators. The description names files, partitions and offsets, never record contents.
public struct LogError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a stable, extensible code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case systemCallFailed
            case belowDiskFloor
            case corruption
            case streamNotFound
            case streamMismatch
            case invalidArgument
            case offsetOutOfRange
            case closed
            case readOnly
            case invalidMetadata
            case directoryInUse
            case unavailable
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A system call (`open`, `pwrite`, `fsync`, …) failed; ``LogError/systemCall`` and ``LogError/errno`` say which and why.
        public static let systemCallFailed = Code(.systemCallFailed)
        /// Free disk space is below the configured floor: the append was refused and nothing was written.
        /// Retry later (after retention or an operator frees space); the MQTT bridge stops taking messages on this.
        public static let belowDiskFloor = Code(.belowDiskFloor)
        /// Stored bytes fail their checksum or framing in a place that is not a torn tail.
        public static let corruption = Code(.corruption)
        public static let streamNotFound = Code(.streamNotFound)
        /// A stream exists with a different partition count than requested.
        public static let streamMismatch = Code(.streamMismatch)
        public static let invalidArgument = Code(.invalidArgument)
        /// The offset is before the partition's start (deleted by retention) or beyond its high watermark.
        public static let offsetOutOfRange = Code(.offsetOutOfRange)
        /// The log was closed.
        public static let closed = Code(.closed)
        /// The log was opened read-only and the operation writes.
        public static let readOnly = Code(.readOnly)
        /// A stream metadata or consumer offsets file could not be parsed.
        public static let invalidMetadata = Code(.invalidMetadata)
        /// Another process has the data directory open for writing.
        public static let directoryInUse = Code(.directoryInUse)
        /// A log kept by a remote service (NATS JetStream) cannot be reached or did not confirm the append in
        /// time; what was not confirmed is not in the log. Retry later: the MQTT bridge pauses intake on this.
        public static let unavailable = Code(.unavailable)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// A fixed sentence saying what failed.
    public var message: String
    public var systemCall: String?
    public var errno: Int32?
    public var path: String?
    public var stream: String?
    public var partition: Int?
    /// The base offset of the segment concerned.
    public var segment: Int64?
    public var offset: Int64?
    /// A byte position inside a segment file.
    public var position: Int64?
    public var freeBytes: Int64?
    public var floorBytes: Int64?

    /// Whether waiting and retrying the same operation may succeed: the bridge holds its messages on these
    /// rather than leaving them for redelivery.
    public var isTransient: Bool {
        code == .belowDiskFloor || code == .unavailable
    }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        var parts = ["LogError.\(code): \(message)"]
        if let systemCall { parts.append("call=\(systemCall)") }
        if let errno { parts.append("errno=\(errno) (\(String(cString: strerror(errno))))") }
        if let stream { parts.append("stream=\(stream)") }
        if let partition { parts.append("partition=\(partition)") }
        if let segment { parts.append("segment=\(segment)") }
        if let offset { parts.append("offset=\(offset)") }
        if let position { parts.append("position=\(position)") }
        if let freeBytes { parts.append("freeBytes=\(freeBytes)") }
        if let floorBytes { parts.append("floorBytes=\(floorBytes)") }
        if let path { parts.append("path=\(path)") }
        return parts.joined(separator: " ")
    }

    /// The same error with a stream and partition attached, for errors raised below the partition layer.
    func located(stream: String? = nil, partition: Int? = nil) -> LogError {
        var copy = self
        if copy.stream == nil { copy.stream = stream }
        if copy.partition == nil { copy.partition = partition }
        return copy
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
