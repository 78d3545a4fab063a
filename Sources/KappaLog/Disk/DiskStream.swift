public import KappaCore
import Dispatch
import Logging

/// A stream of the embedded ``DiskLog``: fixed partitions on local disk.
///
/// All methods are thread-safe. The two call sites it is shaped for:
///
/// ```swift
/// // MQTT bridge, inside libmosquitto's message callback (its network thread), before the PUBACK:
/// do {
///     _ = try readings.append(key: deviceID, eventTime: receivedAt, value: encodedReading)
/// } catch let error where error.code == .belowDiskFloor {
///     // stop taking messages; the broker keeps them in the persistent session
/// }
///
/// // A processor, in a task:
/// var offset = committed
/// while !Task.isCancelled {
///     let batch = try await readings.read(partition: p, from: offset, limits: .init(maxRecords: 5_000))
///     if batch.records.isEmpty { try await readings.waitForRecords(partition: p, from: offset); continue }
///     handle(batch.records)
///     offset = batch.nextOffset
/// }
/// ```
public final class DiskStream: LogStream {
    public let name: String
    public var partitionCount: Int { partitions.count }

    let directory: String
    let partitions: [Partition]
    let consumers: ConsumerOffsetStore
    private let configuration: DiskLogConfiguration
    private let diskGuard: DiskSpaceGuard
    private let readQueue: DispatchQueue
    private let flushSoon: @Sendable () -> Void

    init(
        name: String,
        directory: String,
        partitions: [Partition],
        consumers: ConsumerOffsetStore,
        configuration: DiskLogConfiguration,
        diskGuard: DiskSpaceGuard,
        readQueue: DispatchQueue,
        flushSoon: @escaping @Sendable () -> Void
    ) {
        self.name = name
        self.directory = directory
        self.partitions = partitions
        self.consumers = consumers
        self.configuration = configuration
        self.diskGuard = diskGuard
        self.readQueue = readQueue
        self.flushSoon = flushSoon
    }

    public func partition(forKey key: [UInt8]) -> Int {
        StableHash.partition(forKey: key, partitionCount: partitions.count)
    }

    private func checked(_ partition: Int) throws(LogError) -> Partition {
        guard partitions.indices.contains(partition) else {
            var error = LogError(code: .invalidArgument, message: "no such partition")
            error.stream = name
            error.partition = partition
            throw error
        }
        return partitions[partition]
    }

    // MARK: Appending

    public func append(key: [UInt8], eventTime: Timestamp, value: [UInt8]) throws(LogError) -> LogPosition {
        let record = LogAppendRecord(key: key, eventTime: eventTime, value: value)
        guard key.count + value.count + RecordBatch.headerSize + 30 <= configuration.maxBatchBytes else { throw recordTooLarge() }
        let target = partitions[partition(forKey: key)]
        var batch = RecordBatch.encode(CollectionOfOne(record))
        try diskGuard.reserve(batch.count)
        let (offset, ticket) = try target.append(&batch, recordCount: 1)
        try afterAppend(to: target, ticket: ticket)
        return LogPosition(partition: target.id, offset: offset)
    }

    public func append(_ records: [LogAppendRecord]) throws(LogError) -> [LogPosition] {
        guard !records.isEmpty else { return [] }
        var members = [[Int]](repeating: [], count: partitions.count)
        for index in records.indices {
            members[partition(forKey: records[index].key)].append(index)
        }
        // Encode everything first (outside any lock), so a refusal or a too-large record writes nothing.
        var batches: [(partition: Int, members: ArraySlice<Int>, bytes: [UInt8])] = []
        var totalBytes = 0
        let budget = configuration.maxBatchBytes - RecordBatch.headerSize
        for (partition, indices) in members.enumerated() where !indices.isEmpty {
            var chunkStart = 0
            var chunkBytes = 0
            for (position, index) in indices.enumerated() {
                let size = records[index].key.count + records[index].value.count + 30
                guard size <= budget else { throw recordTooLarge() }
                if chunkBytes + size > budget {
                    let chunk = indices[chunkStart..<position]
                    batches.append((partition, chunk, RecordBatch.encode(chunk.lazy.map { records[$0] })))
                    chunkStart = position
                    chunkBytes = 0
                }
                chunkBytes += size
            }
            let chunk = indices[chunkStart...]
            batches.append((partition, chunk, RecordBatch.encode(chunk.lazy.map { records[$0] })))
        }
        for batch in batches { totalBytes += batch.bytes.count }
        try diskGuard.reserve(totalBytes)

        var positions = [LogPosition](repeating: LogPosition(partition: 0, offset: 0), count: records.count)
        var tickets: [Int: Int64] = [:]
        for var batch in batches {
            let target = partitions[batch.partition]
            let (baseOffset, ticket) = try target.append(&batch.bytes, recordCount: batch.members.count)
            for (number, index) in batch.members.enumerated() {
                positions[index] = LogPosition(partition: batch.partition, offset: baseOffset + Int64(number))
            }
            tickets[batch.partition] = ticket
        }
        for (partition, ticket) in tickets {
            try afterAppend(to: partitions[partition], ticket: ticket)
        }
        return positions
    }

    private func afterAppend(to partition: Partition, ticket: Int64) throws(LogError) {
        switch configuration.fsync {
        case .always:
            try partition.makeDurable(upTo: ticket)
        case .interval(_, let bytes):
            if ticket - partition.durability.durableTicket >= Int64(bytes) { flushSoon() }
        case .never:
            break
        }
    }

    private func recordTooLarge() -> LogError {
        var error = LogError(code: .invalidArgument, message: "record larger than the maximum batch size")
        error.stream = name
        return error
    }

    // MARK: Reading

    public func read(partition: Int, from offset: Int64, limits: LogReadLimits = LogReadLimits()) throws(LogError) -> LogReadResult {
        try checked(partition).read(from: offset, limits: limits)
    }

    /// Reads on a dedicated dispatch queue, so a slow disk never blocks Swift's cooperative threads.
    public func read(partition: Int, from offset: Int64, limits: LogReadLimits = LogReadLimits()) async throws -> LogReadResult {
        let target = try checked(partition)
        return try await withCheckedThrowingContinuation { continuation in
            readQueue.async {
                continuation.resume(with: Result { () throws(LogError) in try target.read(from: offset, limits: limits) })
            }
        }
    }

    /// All the reads in one hop to the read queue, not one each.
    public func read(_ partitions: [(partition: Int, offset: Int64)], limits: LogReadLimits, totalRecords: Int) async throws -> [LogReadResult] {
        let targets = try partitions.map { (request) throws(LogError) in (try checked(request.partition), request.offset) }
        guard totalRecords > 0, !targets.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            readQueue.async {
                continuation.resume(with: Result { () throws(LogError) -> [LogReadResult] in
                    var results: [LogReadResult] = []
                    var room = totalRecords
                    for (target, offset) in targets where room > 0 {
                        var partitionLimits = limits
                        partitionLimits.maxRecords = min(limits.maxRecords, room)
                        let result = try target.read(from: offset, limits: partitionLimits)
                        room -= result.records.count
                        results.append(result)
                    }
                    return results
                })
            }
        }
    }

    public func waitForRecords(partition: Int, from offset: Int64, timeout: Duration) -> Bool {
        guard partitions.indices.contains(partition) else { return false }
        return partitions[partition].signal.wait(for: offset, timeout: timeout)
    }

    public func waitForRecords(partition: Int, from offset: Int64) async throws {
        try await checked(partition).signal.wait(for: offset)
    }

    public func offset(partition: Int, atOrAfter time: Timestamp) throws(LogError) -> Int64 {
        try checked(partition).offset(atOrAfter: time.nanosecondsSinceEpoch)
    }

    public func offsets(partition: Int) -> LogOffsetRange {
        guard partitions.indices.contains(partition) else { return LogOffsetRange(start: 0, highWatermark: 0) }
        return partitions[partition].offsets
    }

    public func ensureNextOffset(partition: Int, atLeast offset: Int64, reason: String) throws(LogError) -> RecordedLoss? {
        try checked(partition).ensureNextOffset(atLeast: offset, reason: reason)
    }

    // MARK: Consumer offsets

    public func commit(group: String, offsets: [Int: Int64]) throws(LogError) {
        try consumers.commit(group: group, kind: .local, offsets: offsets)
    }

    public func committedOffsets(group: String) throws(LogError) -> [Int: Int64] {
        consumers.offsets(group: group)
    }

    public func registerProgress(consumer: String, offsets: [Int: Int64]) throws(LogError) {
        try consumers.commit(group: consumer, kind: .registered, offsets: offsets)
    }

    /// Forgets a consumer group, so retention no longer keeps records for it.
    public func removeConsumer(_ group: String) throws(LogError) {
        try consumers.remove(group: group)
    }

    /// Consumer groups and their committed offsets.
    public var consumerGroups: [String: [Int: Int64]] {
        consumers.allGroups.mapValues(\.offsets)
    }

    // MARK: Inspecting

    public func summary(partition: Int) -> PartitionSummary {
        let summary = partitions[partition].summary
        return PartitionSummary(
            partition: partition,
            offsets: summary.offsets,
            segmentCount: summary.segmentCount,
            bytes: summary.bytes,
            minEventTime: summary.minEventTime.map { Timestamp(nanosecondsSinceEpoch: $0) },
            maxEventTime: summary.maxEventTime.map { Timestamp(nanosecondsSinceEpoch: $0) }
        )
    }

    func applyRetention(_ policy: RetentionPolicy, force: Bool) throws(LogError) -> [RetentionDeletion] {
        let now = Timestamp.now().nanosecondsSinceEpoch
        var deletions: [RetentionDeletion] = []
        for partition in partitions {
            let lowest = consumers.lowestNeeded(partition: partition.id)
            for segment in try partition.applyRetention(policy, lowestNeeded: lowest, force: force, nowWallNanoseconds: now) {
                deletions.append(RetentionDeletion(stream: name, partition: partition.id, segment: segment))
            }
        }
        return deletions
    }
}

/// What `kappa log info` shows for a partition.
public struct PartitionSummary: Sendable {
    public var partition: Int
    public var offsets: LogOffsetRange
    public var segmentCount: Int
    public var bytes: Int64
    public var minEventTime: Timestamp?
    public var maxEventTime: Timestamp?
}

/// A segment retention deleted.
public struct RetentionDeletion: Sendable, Hashable {
    public var stream: String
    public var partition: Int
    /// The base offset of the deleted segment.
    public var segment: Int64
}
