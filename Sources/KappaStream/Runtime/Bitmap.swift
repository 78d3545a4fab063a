/// One yes/no per number (a series', a device's), a bit each: flags are kept for every series of a million-series
/// fleet in each of the readings processors, and for every device of an anomaly engine, where a `[Bool]` costs a
/// byte each.
struct Bitmap {
    private var words: [UInt64] = []

    /// Numbers below this have room for their flag; every flag is false until set, and reads false beyond.
    var count: Int { words.count &* 64 }

    /// Setting a flag beyond ``count`` makes room for it.
    subscript(_ index: Int) -> Bool {
        get { index < count && words[index &>> 6] & (1 &<< UInt64(index & 63)) != 0 }
        set {
            if newValue {
                grow(to: index + 1)
                words[index &>> 6] |= 1 &<< UInt64(index & 63)
            } else if index < count {
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

    /// Sets every flag below `count` to true.
    mutating func setAll(below count: Int) {
        grow(to: count)
        for word in 0..<(count / 64) { words[word] = .max }
        if count % 64 != 0 { words[count / 64] |= (1 << UInt64(count % 64)) - 1 }
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
