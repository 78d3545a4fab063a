import KappaJetStream
import KappaLog

/// `kappa log migrate --to nats://…`: copies the embedded log into JetStream with every record at the same
/// offset, so processors (whose checkpoints in PostgreSQL are offsets) continue where they stopped.
///
/// **Offsets.** A JetStream partition numbers its messages densely from sequence 1 = offset 0, and nats-server
/// 2.9 cannot start a stream at a later sequence and still check appends against it. So a partition is copied
/// from offset 0: one whose oldest records retention already deleted is refused, naming it (the records a
/// processor would need are gone anyway; migrate before retention reaches them, or replay from what is left).
///
/// **Resuming.** The copy of a partition continues at the target's high watermark: a run that was interrupted,
/// or an embedded log that took more records after an earlier migration (a gateway ran on it again), is
/// completed by running the same command again. A target that holds more records than the source, or other
/// records at the same offsets, is not a copy of this log and is refused. The end verifies that every
/// partition holds the same records at the same offsets on both sides.
public struct LogMigration {
    public struct Progress: Sendable {
        public var stream: String
        public var partition: Int
        public var copied: Int64
        public var target: Int64
    }

    public struct Summary: Sendable {
        public var streams = 0
        public var partitions = 0
        /// Records appended by this run (0 when an earlier run had copied everything).
        public var copied: Int64 = 0
        /// Records on JetStream at the end, all verified equal to the embedded log's.
        public var verified: Int64 = 0
    }

    public let source: DiskLog
    public let target: JetStreamLog
    /// Records per JetStream append (one round of pipelined publishes).
    public var batchRecords = 2_000

    public init(source: DiskLog, target: JetStreamLog) {
        self.source = source
        self.target = target
    }

    /// Copies every stream, then verifies; `progress` hears each batch copied and verified. Blocks.
    public func run(progress: (Progress) -> Void) throws(LogError) -> Summary {
        var summary = Summary()
        for name in try source.streamNames() {
            let from = try source.openStream(named: name)
            for partition in 0..<from.partitionCount where from.offsets(partition: partition).start > 0 {
                var error = LogError(code: .invalidArgument, message: "retention deleted this partition's records before offset \(from.offsets(partition: partition).start): a JetStream partition starts at offset 0, so its offsets could not be kept")
                error.stream = name
                error.partition = partition
                throw error
            }
            let to = try target.createStream(named: name, partitionCount: from.partitionCount)
            summary.streams += 1
            for partition in 0..<from.partitionCount {
                summary.partitions += 1
                summary.copied += try copy(partition, of: from, to: to, progress: progress)
            }
            for (group, offsets) in from.consumerGroups {
                try to.commit(group: group, offsets: offsets)
            }
        }
        for name in try source.streamNames() {
            let from = try source.openStream(named: name)
            let to = try target.openStream(named: name)
            for partition in 0..<from.partitionCount {
                summary.verified += try verify(partition, of: from, against: to)
            }
        }
        return summary
    }

    private func copy(_ partition: Int, of from: DiskStream, to: JetStreamStream, progress: (Progress) -> Void) throws(LogError) -> Int64 {
        let end = from.offsets(partition: partition).highWatermark
        var next = to.offsets(partition: partition).highWatermark
        guard next <= end else {
            throw mismatch(from.name, partition, "JetStream holds \(next) records, the embedded log \(end): the target is not a copy of this log")
        }
        if next > 0 {
            // The last record copied before must be this log's, or the target is another log's.
            let theirs = try to.read(partition: partition, from: next - 1, limits: LogReadLimits(maxRecords: 1)).records.first
            let ours = try from.read(partition: partition, from: next - 1, limits: LogReadLimits(maxRecords: 1)).records.first
            guard let theirs, let ours, Self.same(theirs, ours) else {
                throw mismatch(from.name, partition, "the record at offset \(next - 1) differs on JetStream: the target is not a copy of this log")
            }
        }
        let started = next
        while next < end {
            let batch = try from.read(partition: partition, from: next, limits: LogReadLimits(maxRecords: min(batchRecords, Int(end - next)), maxBytes: 4 << 20))
            guard let last = batch.records.last else { break }
            var records: [LogAppendRecord] = []
            records.reserveCapacity(batch.records.count)
            for record in batch.records {
                guard to.partition(forKey: Array(record.key)) == partition else {
                    throw mismatch(from.name, partition, "the record at offset \(record.offset) belongs to another partition by its key")
                }
                records.append(LogAppendRecord(key: Array(record.key), eventTime: record.eventTime, value: Array(record.value)))
            }
            let positions = try to.append(records)
            guard positions.first?.offset == batch.records.first?.offset, positions.last?.offset == last.offset else {
                throw mismatch(from.name, partition, "JetStream stored offsets \(positions.first?.offset ?? -1)…\(positions.last?.offset ?? -1) for \(batch.records.first?.offset ?? -1)…\(last.offset)")
            }
            next = last.offset + 1
            progress(Progress(stream: from.name, partition: partition, copied: next, target: end))
        }
        return next - started
    }

    private func verify(_ partition: Int, of from: DiskStream, against to: JetStreamStream) throws(LogError) -> Int64 {
        let end = from.offsets(partition: partition).highWatermark
        guard to.offsets(partition: partition).highWatermark == end else {
            throw mismatch(from.name, partition, "JetStream holds \(to.offsets(partition: partition).highWatermark) records after the copy, the embedded log \(end)")
        }
        var next: Int64 = 0
        while next < end {
            let ours = try from.read(partition: partition, from: next, limits: LogReadLimits(maxRecords: 5_000, maxBytes: 4 << 20)).records
            guard !ours.isEmpty else { break }
            var theirs: [LogRecord] = []
            while theirs.count < ours.count {
                let read = try to.read(partition: partition, from: next + Int64(theirs.count), limits: LogReadLimits(maxRecords: ours.count - theirs.count, maxBytes: 4 << 20)).records
                guard !read.isEmpty else { break }
                theirs += read
            }
            for (mine, copied) in zip(ours, theirs) where !(mine.offset == copied.offset && Self.same(mine, copied)) {
                throw mismatch(from.name, partition, "the record at offset \(mine.offset) differs on JetStream")
            }
            guard theirs.count == ours.count else {
                throw mismatch(from.name, partition, "JetStream returned \(theirs.count) of \(ours.count) records from offset \(next)")
            }
            next = ours[ours.count - 1].offset + 1
        }
        return next
    }

    private static func same(_ left: LogRecord, _ right: LogRecord) -> Bool {
        left.eventTime == right.eventTime && left.key.elementsEqual(right.key) && left.value.elementsEqual(right.value)
    }

    private func mismatch(_ stream: String, _ partition: Int, _ message: String) -> LogError {
        var error = LogError(code: .streamMismatch, message: message)
        error.stream = stream
        error.partition = partition
        return error
    }
}
