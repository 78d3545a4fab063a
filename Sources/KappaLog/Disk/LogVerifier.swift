#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A full check of every batch of every segment of a data directory, without opening it as a log.
///
/// Safe while another process writes: it only reads. What follows the valid batches of a partition's last
/// segment is judged as recovery judges it: after a crash (no clean-shutdown mark), an incomplete last batch is a
/// torn tail (what recovery cuts, or a write in flight); after a clean shutdown any damage, and otherwise a
/// complete batch failing its checks, is corruption, as is every problem elsewhere. Losses recovery recorded
/// earlier are listed too; those no operator acknowledged yet count as failures.
public enum LogVerifier {
    public struct Problem: Sendable, CustomStringConvertible {
        public var stream: String
        public var partition: Int
        /// Base offset of the segment.
        public var segment: Int64
        /// Byte position in the segment file of the first bad batch.
        public var position: Int64
        /// The offset the bad batch should have started at.
        public var offset: Int64
        public var reason: String
        public var kind: Kind

        public enum Kind: Sendable, Equatable {
            /// A write a crash cut short; recovery cuts it and nothing acknowledged is lost.
            case tornTail
            case corruption
            /// Acknowledged records recovery already had to give up (`offset` is the first of them, `count` many).
            case recordedLoss(count: Int64, acknowledged: Bool)
        }

        /// True for a torn tail; false for corruption and recorded losses.
        public var isTornTail: Bool { kind == .tornTail }

        public var description: String {
            let location = "stream=\(stream) partition=\(partition)"
            switch kind {
            case .tornTail:
                return "torn tail \(location) segment=\(segment) position=\(position) offset=\(offset): \(reason)"
            case .corruption:
                return "CORRUPTION \(location) segment=\(segment) position=\(position) offset=\(offset): \(reason)"
            case .recordedLoss(let count, let acknowledged):
                return "\(acknowledged ? "lost (acknowledged)" : "LOST") \(location) offsets=\(offset)..<\(offset + count) (\(count) records): \(reason)"
            }
        }
    }

    public struct Report: Sendable {
        public var streams = 0
        public var partitions = 0
        public var segments = 0
        public var batches = 0
        public var records: Int64 = 0
        public var bytes: Int64 = 0
        public var problems: [Problem] = []

        public var corruptions: [Problem] { problems.filter { $0.kind == .corruption } }

        /// Recorded losses no operator acknowledged yet (`kappa log acknowledge-loss`).
        public var unacknowledgedLosses: [Problem] {
            problems.filter { if case .recordedLoss(_, false) = $0.kind { true } else { false } }
        }
    }

    public static func verify(directory: String, maxBatchBytes: Int = DiskLogConfiguration().maxBatchBytes) throws(LogError) -> Report {
        var report = Report()
        for stream in try FileSystem.contents(of: directory) where FileSystem.exists("\(directory)/\(stream)/\(StreamMetadata.fileName)") {
            let metadataPath = "\(directory)/\(stream)/\(StreamMetadata.fileName)"
            let metadata = try StreamMetadata.parse(FileSystem.readFile(metadataPath), path: metadataPath)
            report.streams += 1
            for partition in 0..<metadata.partitionCount {
                let partitionDirectory = "\(directory)/\(stream)/\(DiskLog.partitionDirectoryName(partition))"
                guard FileSystem.exists(partitionDirectory) else { continue }
                report.partitions += 1
                let stored = try PartitionState.load(directory: partitionDirectory, stream: stream, partition: partition)
                let losses = stored?.losses ?? []
                for loss in losses {
                    report.problems.append(Problem(
                        stream: stream, partition: partition, segment: -1, position: -1, offset: loss.offsets.lowerBound,
                        reason: loss.reason, kind: .recordedLoss(count: loss.count, acknowledged: loss.acknowledged)
                    ))
                }
                let baseOffsets = try SegmentFiles.baseOffsets(in: partitionDirectory)
                var expectedBase: Int64?
                for (number, baseOffset) in baseOffsets.enumerated() {
                    report.segments += 1
                    func problem(_ position: Int64, _ offset: Int64, _ reason: String, kind: Problem.Kind) -> Problem {
                        Problem(stream: stream, partition: partition, segment: baseOffset, position: position, offset: offset, reason: reason, kind: kind)
                    }
                    if let expectedBase, expectedBase != baseOffset, !losses.contains(where: { $0.offsets == expectedBase..<baseOffset }) {
                        report.problems.append(problem(0, expectedBase, "segment starts at \(baseOffset), previous one ends at \(expectedBase)", kind: .corruption))
                    }
                    let isLast = number == baseOffsets.count - 1
                    let file = try LogFile.open(SegmentFiles.logPath(directory: partitionDirectory, baseOffset: baseOffset), flags: O_RDONLY)
                    let outcome = try SegmentScanner.scan(file, continuing: SegmentIndex(baseOffset: baseOffset), intervalBytes: 1 << 20, maxBatchBytes: maxBatchBytes)
                    report.batches += outcome.index.batchCount
                    report.records += outcome.index.recordCount
                    report.bytes += outcome.fileSize
                    expectedBase = outcome.index.nextOffset
                    switch outcome.stop {
                    case .endOfFile:
                        if isLast, let stored, stored.cleanShutdown, stored.nextOffset > outcome.index.nextOffset {
                            let missing = "records \(outcome.index.nextOffset)..<\(stored.nextOffset) missing after a clean shutdown"
                            report.problems.append(problem(outcome.fileSize, outcome.index.nextOffset, missing, kind: .corruption))
                        }
                    case .torn(let position), .corrupt(let position, _):
                        var reason = "torn write"
                        if case .corrupt(_, let why) = outcome.stop { reason = why }
                        let following = try SegmentScanner.firstValidBatch(in: file, after: position, maxBatchBytes: maxBatchBytes)
                        if let following { reason += "; a valid batch follows at position \(following)" }
                        var kind = Problem.Kind.corruption
                        if isLast, following == nil {
                            let verdict = try Partition.classifyTail(
                                outcome.stop, file: file, fileSize: outcome.fileSize,
                                afterCleanShutdown: stored?.cleanShutdown ?? false, maxBatchBytes: maxBatchBytes
                            )
                            switch verdict {
                            case .intact: break
                            case .torn(_, let why):
                                kind = .tornTail
                                reason = why
                            case .corrupt(_, let why, _):
                                reason = why
                            }
                        }
                        report.problems.append(problem(position, outcome.index.nextOffset, reason, kind: kind))
                    }
                }
            }
        }
        return report
    }
}
