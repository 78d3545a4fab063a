#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A full check of every batch of every segment of a data directory, without opening it as a log.
///
/// Safe while another process writes: it only reads. A bad batch at the very end of a partition's last
/// segment with nothing valid after it is a torn tail (what recovery cuts, or a write in flight); any
/// other problem is corruption.
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
        /// True for a torn tail; false for corruption.
        public var isTornTail: Bool

        public var description: String {
            "\(isTornTail ? "torn tail" : "CORRUPTION") stream=\(stream) partition=\(partition) segment=\(segment) position=\(position) offset=\(offset): \(reason)"
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

        public var corruptions: [Problem] { problems.filter { !$0.isTornTail } }
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
                let baseOffsets = try SegmentFiles.baseOffsets(in: partitionDirectory)
                var expectedBase: Int64?
                for (number, baseOffset) in baseOffsets.enumerated() {
                    report.segments += 1
                    func problem(_ position: Int64, _ offset: Int64, _ reason: String, tail: Bool) -> Problem {
                        Problem(stream: stream, partition: partition, segment: baseOffset, position: position, offset: offset, reason: reason, isTornTail: tail)
                    }
                    if let expectedBase, expectedBase != baseOffset {
                        report.problems.append(problem(0, expectedBase, "segment starts at \(baseOffset), previous one ends at \(expectedBase)", tail: false))
                    }
                    let file = try LogFile.open(SegmentFiles.logPath(directory: partitionDirectory, baseOffset: baseOffset), flags: O_RDONLY)
                    let outcome = try SegmentScanner.scan(file, continuing: SegmentIndex(baseOffset: baseOffset), intervalBytes: 1 << 20, maxBatchBytes: maxBatchBytes)
                    report.batches += outcome.index.batchCount
                    report.records += outcome.index.recordCount
                    report.bytes += outcome.fileSize
                    expectedBase = outcome.index.nextOffset
                    switch outcome.stop {
                    case .endOfFile:
                        break
                    case .torn(let position), .corrupt(let position, _):
                        var reason = "torn write"
                        if case .corrupt(_, let why) = outcome.stop { reason = why }
                        let following = try SegmentScanner.firstValidBatch(in: file, after: position, maxBatchBytes: maxBatchBytes)
                        if let following { reason += "; a valid batch follows at position \(following)" }
                        let isTail = number == baseOffsets.count - 1 && following == nil
                        report.problems.append(problem(position, outcome.index.nextOffset, reason, tail: isTail))
                    }
                }
            }
        }
        return report
    }
}
