/// The series registry's index from a series' names to its number: open addressing with linear probing over
/// 4-byte slots holding numbers, each number's hash kept beside it (so growing and removing never need the
/// names, and a probe compares names only when the hashes agree). At most three quarters full.
///
/// Why not a Dictionary keyed by the names: at a million series its entries (two Strings and the number,
/// 36 bytes, in a table a power of two large) cost about 75 bytes per series; this costs about 12.
struct SeriesNumberIndex {
    private static let empty = UInt32.max
    private var slots = [UInt32](repeating: SeriesNumberIndex.empty, count: 16)
    /// Per number: its hash (meaningful while the number is in the index).
    private var hashes: [UInt32] = []
    private(set) var count = 0

    private var mask: Int { slots.count - 1 }

    /// The number with this hash for which `isWanted` is true, if any.
    func find(hash: UInt32, where isWanted: (UInt32) -> Bool) -> UInt32? {
        var position = Int(hash) & mask
        while true {
            let number = slots[position]
            if number == Self.empty { return nil }
            if hashes[Int(number)] == hash, isWanted(number) { return number }
            position = (position + 1) & mask
        }
    }

    /// Adds a number not in the index.
    mutating func insert(_ number: UInt32, hash: UInt32) {
        if Int(number) >= hashes.count {
            hashes.append(contentsOf: repeatElement(0, count: Int(number) + 1 - hashes.count))
        }
        hashes[Int(number)] = hash
        if (count + 1) * 4 > slots.count * 3 { grow() }
        place(number)
        count += 1
    }

    /// Removes a number in the index; the entries after it that probing would no longer reach move back.
    mutating func remove(_ number: UInt32) {
        var hole = Int(hashes[Int(number)]) & mask
        while slots[hole] != number { hole = (hole + 1) & mask }
        var next = (hole + 1) & mask
        while slots[next] != Self.empty {
            let home = Int(hashes[Int(slots[next])]) & mask
            // The entry may fill the hole when the hole lies on its probe path: between its home and it.
            if (next - home) & mask >= (next - hole) & mask {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = Self.empty
        count -= 1
    }

    private mutating func place(_ number: UInt32) {
        var position = Int(hashes[Int(number)]) & mask
        while slots[position] != Self.empty { position = (position + 1) & mask }
        slots[position] = number
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt32](repeating: Self.empty, count: old.count * 2)
        for number in old where number != Self.empty { place(number) }
    }
}
