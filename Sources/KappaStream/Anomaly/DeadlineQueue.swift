/// A binary min-heap of "check this series (or device) for silence at this event time".
///
/// Ties are broken by kind and index, never by hashing, so the order in which gaps are reported is the
/// same in every process and after every restore.
struct DeadlineQueue {
    struct Entry: Comparable {
        var deadline: Int64
        var isDevice: Bool
        var index: Int32

        static func < (lhs: Entry, rhs: Entry) -> Bool {
            if lhs.deadline != rhs.deadline { return lhs.deadline < rhs.deadline }
            if lhs.isDevice != rhs.isDevice { return lhs.isDevice }
            return lhs.index < rhs.index
        }
    }

    private(set) var entries: [Entry] = []

    var first: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child] < entries[parent] else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popFirst() -> Entry? {
        guard !entries.isEmpty else { return nil }
        entries.swapAt(0, entries.count - 1)
        let first = entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count, entries[left] < entries[smallest] { smallest = left }
            if right < entries.count, entries[right] < entries[smallest] { smallest = right }
            guard smallest != parent else { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    func encode(into writer: inout SnapshotWriter) {
        writer.write(UInt32(entries.count))
        for entry in entries {
            writer.write(entry.deadline)
            writer.write(entry.isDevice)
            writer.write(entry.index)
        }
    }

    init() {}

    /// Restores the heap array exactly as it was, so pops come in the same order as in the uninterrupted run.
    init(from reader: inout SnapshotReader, seriesCount: Int, deviceCount: Int) throws(AnomalySnapshotError) {
        let count = try reader.readCount(minimumItemSize: 13)
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let entry = Entry(deadline: try reader.read(), isDevice: try reader.read(), index: try reader.read())
            guard entry.index >= 0, Int(entry.index) < (entry.isDevice ? deviceCount : seriesCount) else { throw reader.corrupt() }
            entries.append(entry)
        }
    }
}
