/// The counters of one sign of a ``QuantileSketch``, in one array of words.
///
/// Few occupied bins (a bucket of a few readings, or a steady sensor) are kept sparse: one word per occupied
/// bin, its index above its count, in ascending order, so memory and time follow the readings, not the span of
/// their magnitudes (six readings between 1 and 10,000 would need about 460 dense counters), and a sketch of a
/// few readings costs one allocation. Past ``sparseLimit`` occupied bins (or once a count would not fit in
/// the sparse word's 32 bits) the words become dense counters covering the indexes from `lowest` to the highest
/// occupied one, the smallest and fastest store for many readings in a narrow band. Either way, past
/// ``QuantileSketch/maxBinsPerSign`` bins the lowest are folded into one, and the result does not depend on
/// the order values came in: a bin below the highest minus the limit counts in the lowest bin kept.
struct LogarithmicBins: Sendable {
    /// Occupied bins kept sparse before the counters turn dense.
    static let sparseLimit = 16
    /// Words reserved when the first bin is occupied: most buckets hold a few distinct bins.
    private static let initialCapacity = 4

    /// Sparse: one word per occupied bin, ``sparseWord(index:count:)``, ascending. Dense: `words[i]` counts
    /// bin `lowest + i`.
    private var words: [UInt64] = []
    /// The bin index of `words[0]` in the dense form.
    private var lowest: Int32 = 0
    private var isDense = false
    private(set) var total: Int64 = 0

    /// The index offset by 2^31 in the high half, so that words compare as their indexes do.
    @inline(__always)
    private static func sparseWord(index: Int32, count: Int64) -> UInt64 {
        UInt64(UInt32(bitPattern: index) ^ 0x8000_0000) << 32 | UInt64(count)
    }

    @inline(__always)
    private static func sparseIndex(_ word: UInt64) -> Int32 {
        Int32(bitPattern: UInt32(truncatingIfNeeded: word >> 32) ^ 0x8000_0000)
    }

    @inline(__always)
    private static func sparseCount(_ word: UInt64) -> Int64 {
        Int64(word & 0xFFFF_FFFF)
    }

    mutating func add(index: Int32, count: Int64) {
        if !isDense, count > Int64(UInt32.max) - total {
            // No count fits the sparse word any more (every count is at most the total).
            makeDense()
        }
        if isDense {
            addDense(index: index, count: count)
        } else {
            addSparse(index: index, count: count)
        }
    }

    private mutating func addSparse(index: Int32, count: Int64) {
        total += count
        var index = index
        if let last = words.last {
            let lowestKept = max(Self.sparseIndex(last), index) - Int32(QuantileSketch.maxBinsPerSign) + 1
            if index < lowestKept { index = lowestKept }
            // A new highest bin may push older ones below the lowest kept: they join it.
            if Self.sparseIndex(words[0]) < lowestKept {
                var folded: Int64 = 0
                var dropped = 0
                while dropped < words.count, Self.sparseIndex(words[dropped]) < lowestKept {
                    folded += Self.sparseCount(words[dropped])
                    dropped += 1
                }
                if dropped < words.count, Self.sparseIndex(words[dropped]) == lowestKept {
                    folded += Self.sparseCount(words[dropped])
                    dropped += 1
                }
                words.replaceSubrange(0..<dropped, with: CollectionOfOne(Self.sparseWord(index: lowestKept, count: folded)))
            }
        } else {
            words.reserveCapacity(Self.initialCapacity)
        }
        var position = words.count
        while position > 0, Self.sparseIndex(words[position - 1]) >= index { position -= 1 }
        if position < words.count, Self.sparseIndex(words[position]) == index {
            words[position] += UInt64(count)
            return
        }
        words.insert(Self.sparseWord(index: index, count: count), at: position)
        if words.count > Self.sparseLimit { makeDense() }
    }

    private mutating func makeDense() {
        isDense = true
        guard let first = words.first, let last = words.last else { return }
        lowest = Self.sparseIndex(first)
        var counts = [UInt64](repeating: 0, count: Int(Self.sparseIndex(last) - lowest) + 1)
        for word in words {
            counts[Int(Self.sparseIndex(word) - lowest)] += UInt64(Self.sparseCount(word))
        }
        words = counts
    }

    private mutating func addDense(index: Int32, count: Int64) {
        total += count
        guard !words.isEmpty else {
            lowest = index
            words = [UInt64(count)]
            return
        }
        var index = index
        if index < lowest {
            let highest = lowest + Int32(words.count) - 1
            let lowestKept = highest - Int32(QuantileSketch.maxBinsPerSign) + 1
            // Too wide: the value joins the lowest bin kept (it loses accuracy, the others keep it).
            if index < lowestKept { index = lowestKept }
            if index < lowest {
                words.insert(contentsOf: repeatElement(0, count: Int(lowest - index)), at: 0)
                lowest = index
            }
        } else if Int(index - lowest) >= words.count {
            words.append(contentsOf: repeatElement(0, count: Int(index - lowest) - words.count + 1))
            if words.count > QuantileSketch.maxBinsPerSign {
                foldLowest(keeping: QuantileSketch.maxBinsPerSign)
            }
        }
        words[Int(index - lowest)] &+= UInt64(count)
    }

    /// Folds the lowest bins into one so that `kept` remain.
    private mutating func foldLowest(keeping kept: Int) {
        guard words.count > kept else { return }
        let folded = words.count - kept
        let sum = words[0...folded].reduce(0, &+)
        words.removeFirst(folded)
        words[0] = sum
        lowest += Int32(folded)
    }

    mutating func merge(_ other: LogarithmicBins) {
        guard other.total > 0 else { return }
        // Both dense and the union within the limit: counters add in one pass, no bin folds (the same bins
        // as adding other's bins one by one).
        if isDense, other.isDense, !words.isEmpty, !other.words.isEmpty {
            let low = min(lowest, other.lowest)
            let high = max(lowest + Int32(words.count), other.lowest + Int32(other.words.count)) - 1
            if Int(high - low) < QuantileSketch.maxBinsPerSign {
                if low < lowest {
                    words.insert(contentsOf: repeatElement(0, count: Int(lowest - low)), at: 0)
                    lowest = low
                }
                if Int(high - lowest) >= words.count {
                    words.append(contentsOf: repeatElement(0, count: Int(high - lowest) + 1 - words.count))
                }
                let offset = Int(other.lowest - lowest)
                words.withUnsafeMutableBufferPointer { target in
                    for (position, binCount) in other.words.enumerated() { target[offset + position] &+= binCount }
                }
                total += other.total
                return
            }
        }
        other.forEachAscending { index, binCount in
            add(index: index, count: binCount)
            return true
        }
    }

    /// Calls `body` with each occupied bin from the lowest index up, until it returns false.
    func forEachAscending(_ body: (Int32, Int64) -> Bool) {
        if !isDense {
            for word in words where Self.sparseCount(word) > 0 {
                if !body(Self.sparseIndex(word), Self.sparseCount(word)) { return }
            }
            return
        }
        for (position, binCount) in words.enumerated() where binCount > 0 {
            if !body(lowest + Int32(position), Int64(binCount)) { return }
        }
    }

    /// Calls `body` with each occupied bin from the highest index down, until it returns false.
    func forEachDescending(_ body: (Int32, Int64) -> Bool) {
        if !isDense {
            for word in words.reversed() where Self.sparseCount(word) > 0 {
                if !body(Self.sparseIndex(word), Self.sparseCount(word)) { return }
            }
            return
        }
        for (position, binCount) in words.enumerated().reversed() where binCount > 0 {
            if !body(lowest + Int32(position), Int64(binCount)) { return }
        }
    }

    /// The dense layout whichever the form: the same readings give the same bytes.
    func encode(into bytes: inout [UInt8]) {
        let first = isDense ? lowest : (words.first.map(Self.sparseIndex) ?? 0)
        // Zigzag, so that small negative indexes (magnitudes below 1) stay one or two bytes.
        Varint.append(UInt64(UInt32(bitPattern: (first << 1) ^ (first >> 31))), to: &bytes)
        if isDense {
            Varint.append(UInt64(words.count), to: &bytes)
            for binCount in words {
                Varint.append(binCount, to: &bytes)
            }
            return
        }
        guard let last = words.last else {
            Varint.append(0, to: &bytes)
            return
        }
        Varint.append(UInt64(Self.sparseIndex(last) - first + 1), to: &bytes)
        var next = first
        for word in words {
            let index = Self.sparseIndex(word)
            if next < index {
                // Empty bins between occupied ones: one zero each, appended as a run.
                bytes.append(contentsOf: repeatElement(0, count: Int(index - next)))
                next = index
            }
            Varint.append(UInt64(Self.sparseCount(word)), to: &bytes)
            next += 1
        }
    }

    init() {}

    init?(decoding buffer: UnsafeRawBufferPointer, at index: inout Int) {
        guard let zigzag = Varint.decode(buffer, at: &index, end: buffer.count), zigzag <= UInt64(UInt32.max),
              let binCount = Varint.decode(buffer, at: &index, end: buffer.count),
              binCount <= UInt64(QuantileSketch.maxBinsPerSign)
        else { return nil }
        let unsigned = UInt32(zigzag)
        lowest = Int32(bitPattern: (unsigned >> 1) ^ (0 &- (unsigned & 1)))
        words.reserveCapacity(Int(binCount))
        for _ in 0..<binCount {
            guard let binCount = Varint.decode(buffer, at: &index, end: buffer.count), binCount <= UInt64(Int64.max) else { return nil }
            let sum = total.addingReportingOverflow(Int64(binCount))
            guard !sum.overflow else { return nil }
            total = sum.partialValue
            words.append(binCount)
        }
        guard Int(lowest) + words.count <= Int(Int32.max) else { return nil }
        // Leading and trailing zeros carry nothing; an empty or zero-only array is the empty (sparse) form.
        while let last = words.last, last == 0 { words.removeLast() }
        let leading = words.prefix { $0 == 0 }.count
        if leading > 0 {
            words.removeFirst(leading)
            lowest += Int32(leading)
        }
        isDense = !words.isEmpty
    }
}

extension LogarithmicBins: Equatable {
    /// Equal when the same bins hold the same counts, whichever form each is in.
    static func == (left: LogarithmicBins, right: LogarithmicBins) -> Bool {
        guard left.total == right.total else { return false }
        var leftBins: [Int64] = [], rightBins: [Int64] = []
        left.forEachAscending { index, binCount in
            leftBins.append(Int64(index))
            leftBins.append(binCount)
            return true
        }
        right.forEachAscending { index, binCount in
            rightBins.append(Int64(index))
            rightBins.append(binCount)
            return true
        }
        return leftBins == rightBins
    }
}
