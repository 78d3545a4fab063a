/// Finds readings that MQTT delivered twice: a reading is a duplicate when an identical one (same series,
/// event time and value bits) is among the previous `capacity` records of the same partition.
///
/// Why this rule: the bridge can append a message again only when it was killed before acknowledging it,
/// and then the redelivery lands in the same partition (partitioned by device) shortly after. And why a
/// window over log positions rather than over time or per series: the decision then depends on the log
/// alone, never on where checkpoints fell. On restart the window is rebuilt by re-reading the `capacity`
/// records before the resume offset, so a run that crashed and resumed drops exactly the readings an
/// uninterrupted run drops. Every record enters the window, duplicates included, for the same reason.
///
/// Cost: in-order readings are newer than anything the series has had and skip the search; only readings at
/// or before their series' newest time search the window.
struct DuplicateWindow {
    private struct Entry {
        var series: UInt32
        var time: Int64
        var valueBits: UInt64
    }

    /// Marks a record that held no reading (keeps the window counted in records).
    private static let noSeries = UInt32.max

    private var entries: [Entry]
    private var next = 0
    private var filled = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        entries = Array(repeating: Entry(series: Self.noSeries, time: 0, valueBits: 0), count: self.capacity)
    }

    /// Whether the window holds this reading; `newestTime` is an upper bound of the series' times in the window.
    func contains(series: UInt32, time: Int64, valueBits: UInt64, newestTime: Int64?) -> Bool {
        guard let newestTime, time <= newestTime else { return false }
        var index = next
        for _ in 0..<filled {
            index = index == 0 ? capacity - 1 : index - 1
            let entry = entries[index]
            if entry.time == time && entry.series == series && entry.valueBits == valueBits { return true }
        }
        return false
    }

    mutating func insert(series: UInt32, time: Int64, valueBits: UInt64) {
        entries[next] = Entry(series: series, time: time, valueBits: valueBits)
        next = next + 1 == capacity ? 0 : next + 1
        filled = min(filled + 1, capacity)
    }

    /// Calls `body` with the series number of every reading in the window.
    func forEachSeries(_ body: (UInt32) -> Void) {
        for entry in entries.prefix(filled) where entry.series != Self.noSeries { body(entry.series) }
    }

    mutating func insertEmpty() {
        insert(series: Self.noSeries, time: 0, valueBits: 0)
    }
}
