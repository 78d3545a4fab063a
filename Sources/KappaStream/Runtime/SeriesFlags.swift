/// One yes/no per series number, a bit each: per-series flags are kept for every series of a million-series
/// fleet in each of the readings processors, where a `[Bool]` costs a byte each.
struct SeriesFlags {
    private var words: [UInt64] = []

    /// Series numbers below this have a flag (all false until set).
    var count: Int { words.count &* 64 }

    subscript(_ index: Int) -> Bool {
        get { words[index &>> 6] & (1 &<< UInt64(index & 63)) != 0 }
        set {
            if newValue {
                words[index &>> 6] |= 1 &<< UInt64(index & 63)
            } else {
                words[index &>> 6] &= ~(1 &<< UInt64(index & 63))
            }
        }
    }

    /// Makes room for at least `count` flags, the new ones false.
    mutating func grow(to count: Int) {
        let wordsNeeded = (count + 63) / 64
        guard wordsNeeded > words.count else { return }
        words.append(contentsOf: repeatElement(0, count: wordsNeeded - words.count))
    }

    /// Sets every flag to false.
    mutating func clearAll() {
        for index in words.indices { words[index] = 0 }
    }

    /// The numbers whose flag is set, in increasing order.
    var setIndices: [Int] {
        var indices: [Int] = []
        for (position, word) in words.enumerated() {
            var remaining = word
            while remaining != 0 {
                indices.append(position &* 64 &+ remaining.trailingZeroBitCount)
                remaining &= remaining &- 1
            }
        }
        return indices
    }
}
