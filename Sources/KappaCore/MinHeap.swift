/// A binary min-heap: the simulator's schedule of ticks and held-back messages, the anomaly engine's
/// deadlines.
///
/// Ordering is only `Element`'s `<`, never hashing, and `elements` is the heap array itself: a heap saved
/// and restored with `init(heapOrdered:)` pops in the same order as one that never stopped.
/// Inlinable so that each element type gets its own specialised copy on these hot paths.
public struct MinHeap<Element: Comparable> {
    @usableFromInline
    internal var storage: [Element]

    @inlinable
    public init() { storage = [] }

    /// Takes an array already in heap order (from `elements` of an earlier heap), unchanged.
    @inlinable
    public init(heapOrdered elements: [Element]) { storage = elements }

    /// The heap array, in heap order.
    @inlinable
    public var elements: [Element] { storage }

    @inlinable
    public var isEmpty: Bool { storage.isEmpty }

    @inlinable
    public var count: Int { storage.count }

    @inlinable
    public var min: Element? { storage.first }

    @inlinable
    public mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable
    public mutating func popMin() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let smallest = storage.removeLast()
        siftDown(from: 0)
        return smallest
    }

    /// Replaces the smallest element, cheaper than a pop and a push.
    @inlinable
    public mutating func replaceMin(with element: Element) {
        storage[0] = element
        siftDown(from: 0)
    }

    @inlinable
    internal mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < storage.count && storage[left] < storage[smallest] { smallest = left }
            if right < storage.count && storage[right] < storage[smallest] { smallest = right }
            guard smallest != parent else { return }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

extension MinHeap: Sendable where Element: Sendable {}
