import KappaCore

/// A binary min-heap of "check this series (or device) for silence at this event time".
///
/// Ties are broken by kind and index, never by hashing, so the order in which gaps are reported is the
/// same in every process and after every restore.
///
/// The engine queues at most one entry per series and per device (its `deadlineQueued` flag says whether it
/// has one: set when pushed, cleared only when the popped entry is not pushed again), so no two entries are
/// equal and the order is total: pops come in the same order whatever the heap array's layout. That lets the
/// queue be saved as each series' and device's own deadline, and rebuilt from them.
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

    private var heap = MinHeap<Entry>()

    /// In heap order.
    var entries: [Entry] { heap.elements }
    var first: Entry? { heap.min }

    mutating func push(_ entry: Entry) { heap.push(entry) }

    mutating func popFirst() -> Entry? { heap.popMin() }

    /// Calls `body` with every entry whose deadline is before `time` (those a watermark up to `time` pops), in
    /// no particular order: only the heap's top down to where deadlines reach `time` is visited.
    func forEach(before time: Int64, _ body: (Entry) -> Void) {
        let entries = heap.elements
        var stack = entries.isEmpty ? [] : [0]
        while let position = stack.popLast() {
            guard entries[position].deadline < time else { continue }
            body(entries[position])
            if 2 * position + 1 < entries.count { stack.append(2 * position + 1) }
            if 2 * position + 2 < entries.count { stack.append(2 * position + 2) }
        }
    }

    /// Sorted (a sorted array is also in heap order, so older builds read it as before): equal queues give equal
    /// bytes however their heaps were built.
    func encode(into writer: inout SnapshotWriter) {
        writer.write(UInt32(entries.count))
        for entry in entries.sorted() {
            writer.write(entry.deadline)
            writer.write(entry.isDevice)
            writer.write(entry.index)
        }
    }

    init() {}

    /// The queue holding `entries`, in any order; each must be distinct (one per series or device).
    init(unordered entries: [Entry]) {
        heap = MinHeap(heapOrdered: entries.sorted())
    }

    /// Restores the heap array as it was saved (in heap order: older builds saved the live array, newer ones sort
    /// it), so pops come in the same order as in the uninterrupted run.
    init(from reader: inout SnapshotReader, seriesCount: Int, deviceCount: Int) throws(AnomalySnapshotError) {
        let count = try reader.readCount(minimumItemSize: 13)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let entry = Entry(deadline: try reader.read(), isDevice: try reader.read(), index: try reader.read())
            guard entry.index >= 0, Int(entry.index) < (entry.isDevice ? deviceCount : seriesCount) else { throw reader.corrupt() }
            entries.append(entry)
        }
        heap = MinHeap(heapOrdered: entries)
    }
}
