import Synchronization

/// Committed offsets of a stream's consumer groups, one small text file per group, replaced atomically.
///
/// Two kinds of group: `local` ones keep their offsets here; `registered` ones keep them elsewhere
/// (PostgreSQL) and report progress so retention knows. Retention keeps every record at or after the lowest
/// committed offset of any group, and everything in a partition a group has not committed at all.
final class ConsumerOffsetStore: Sendable {
    enum Kind: String, Sendable {
        case local
        case registered
    }

    struct Group: Sendable, Equatable {
        var kind: Kind
        var offsets: [Int: Int64]
    }

    private static let header = "kappa-consumer-offsets 1"
    private static let suffix = ".offsets"

    let directory: String
    private let groups: Mutex<[String: Group]>

    init(directory: String, readOnly: Bool) throws(LogError) {
        self.directory = directory
        var loaded: [String: Group] = [:]
        if FileSystem.exists(directory) {
            for name in try FileSystem.contents(of: directory) where name.hasSuffix(Self.suffix) {
                let path = "\(directory)/\(name)"
                loaded[String(name.dropLast(Self.suffix.count))] = try Self.parse(FileSystem.readFile(path), path: path)
            }
        } else if !readOnly {
            try FileSystem.makeDirectory(directory)
        }
        groups = Mutex(loaded)
    }

    func commit(group name: String, kind: Kind, offsets: [Int: Int64]) throws(LogError) {
        try LogNames.validate(name, what: "consumer group")
        try groups.withLock { (groups) throws(LogError) in
            var group = groups[name] ?? Group(kind: kind, offsets: [:])
            group.kind = kind
            group.offsets.merge(offsets) { _, new in new }
            // Written under the lock so two commits of one group cannot overtake each other on disk.
            try FileSystem.replaceAtomically("\(directory)/\(name)\(Self.suffix)", with: Self.serialize(group))
            groups[name] = group
        }
    }

    func offsets(group name: String) -> [Int: Int64] {
        groups.withLock { $0[name]?.offsets ?? [:] }
    }

    var allGroups: [String: Group] {
        groups.withLock { $0 }
    }

    func remove(group name: String) throws(LogError) {
        try groups.withLock { (groups) throws(LogError) in
            try FileSystem.remove("\(directory)/\(name)\(Self.suffix)")
            groups[name] = nil
        }
    }

    /// The lowest offset some group still needs in `partition`; nil when there are no groups.
    func lowestNeeded(partition: Int) -> Int64? {
        groups.withLock { groups in
            groups.values.map { $0.offsets[partition] ?? 0 }.min()
        }
    }

    /// The highest offset any group committed in `partition`: every offset below it was handed out once.
    func highestCommitted(partition: Int) -> Int64? {
        groups.withLock { groups in
            groups.values.compactMap { $0.offsets[partition] }.max()
        }
    }

    private static func serialize(_ group: Group) -> [UInt8] {
        var text = "\(header)\nkind \(group.kind.rawValue)\n"
        for (partition, offset) in group.offsets.sorted(by: { $0.key < $1.key }) {
            text += "\(partition) \(offset)\n"
        }
        return Array(text.utf8)
    }

    private static func parse(_ bytes: [UInt8], path: String) throws(LogError) -> Group {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        var invalid = LogError(code: .invalidMetadata, message: "unreadable consumer offsets file")
        invalid.path = path
        guard lines.count >= 2, lines[0] == Substring(header), lines[1].hasPrefix("kind "),
              let kind = Kind(rawValue: String(lines[1].dropFirst(5)))
        else { throw invalid }
        var offsets: [Int: Int64] = [:]
        for line in lines.dropFirst(2) {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let partition = Int(parts[0]), let offset = Int64(parts[1]) else { throw invalid }
            offsets[partition] = offset
        }
        return Group(kind: kind, offsets: offsets)
    }
}
