/// Acknowledged records a partition lost: offsets that were handed out but whose records recovery had to cut
/// (a corrupt tail), or that a consumer had committed beyond the log's end. The offsets are never used again;
/// readers skip the range.
public struct RecordedLoss: Sendable, Hashable, CustomStringConvertible {
    public var stream: String
    public var partition: Int
    /// The lost offsets: `offsets.lowerBound` is where the valid log ended, `offsets.upperBound` where it goes on.
    public var offsets: Range<Int64>
    /// When recovery or a consumer found it, seconds since the epoch.
    public var detectedAt: Int64
    /// An operator confirmed it with `kappa log acknowledge-loss`: still listed and counted, no longer alarming.
    public var acknowledged: Bool
    public var reason: String

    public var count: Int64 { Int64(offsets.count) }

    public var description: String {
        "\(stream)/\(partition) offsets \(offsets.lowerBound)..<\(offsets.upperBound) (\(count) records): \(reason)\(acknowledged ? " [acknowledged]" : "")"
    }
}

/// A partition's `partition.state`: the highest offset it ever handed out, whether it was closed cleanly, and
/// the losses it recorded. Small text, replaced atomically (fsynced) when the log opens for writing (which
/// clears the clean-shutdown mark), when a loss is recorded, and at a graceful close (which sets it).
///
/// Absent in directories written before it existed: such a partition opens as after a crash.
struct PartitionState: Equatable, Sendable {
    static let fileName = "partition.state"
    private static let header = "kappa-partition-state 1"

    /// Every offset below it was handed out at some point: the next append gets at least this.
    var nextOffset: Int64
    /// Written by a graceful close: every byte up to `nextOffset` was synced, so any damage found later is corruption.
    var cleanShutdown: Bool
    /// Lost ranges, ascending, with acknowledgement and reason (stream and partition are filled in when loaded).
    var losses: [RecordedLoss]

    static func path(directory: String) -> String {
        "\(directory)/\(fileName)"
    }

    func serialized() -> [UInt8] {
        var text = "\(Self.header)\nnext-offset \(nextOffset)\nclean-shutdown \(cleanShutdown ? 1 : 0)\n"
        for loss in losses {
            // The reason is free text last on its line; keep it on one line.
            let reason = loss.reason.map { $0 == "\n" || $0 == "\r" ? " " : $0 }
            text += "lost \(loss.offsets.lowerBound) \(loss.offsets.upperBound) \(loss.detectedAt) \(loss.acknowledged ? 1 : 0) \(String(reason))\n"
        }
        return Array(text.utf8)
    }

    static func parse(_ bytes: [UInt8], path: String, stream: String, partition: Int) throws(LogError) -> PartitionState {
        var invalid = LogError(code: .invalidMetadata, message: "unreadable partition state")
        invalid.path = path
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard lines.first == Substring(header) else { throw invalid }
        var nextOffset: Int64?
        var clean: Bool?
        var losses: [RecordedLoss] = []
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: false)
            switch parts.first {
            case "next-offset" where parts.count == 2:
                nextOffset = Int64(parts[1])
            case "clean-shutdown" where parts.count == 2:
                clean = parts[1] == "1"
            case "lost" where parts.count >= 5:
                guard let from = Int64(parts[1]), let to = Int64(parts[2]), from < to, let detectedAt = Int64(parts[3]) else { throw invalid }
                losses.append(RecordedLoss(
                    stream: stream, partition: partition, offsets: from..<to, detectedAt: detectedAt,
                    acknowledged: parts[4] == "1", reason: parts.count > 5 ? String(parts[5]) : ""
                ))
            default:
                // Unknown lines are left for newer versions.
                continue
            }
        }
        guard let nextOffset, nextOffset >= 0, let clean else { throw invalid }
        return PartitionState(nextOffset: nextOffset, cleanShutdown: clean, losses: losses)
    }

    static func load(directory: String, stream: String, partition: Int) throws(LogError) -> PartitionState? {
        let path = path(directory: directory)
        guard FileSystem.exists(path) else { return nil }
        return try parse(FileSystem.readFile(path), path: path, stream: stream, partition: partition)
    }

    func store(directory: String) throws(LogError) {
        try FileSystem.replaceAtomically(Self.path(directory: directory), with: serialized())
    }
}
