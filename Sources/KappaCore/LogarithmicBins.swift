/// The counters of one sign of a ``QuantileSketch``.
///
/// Few occupied bins (a bucket of a handful of readings, or a steady sensor) are kept sparse: sorted bin
/// indexes and their counts, so memory and time follow the readings, not the span of their magnitudes (six
/// readings between 1 and 10,000 would need about 460 dense counters). Past ``sparseLimit`` occupied bins they
/// become a dense array covering the indexes from `lowest` to the highest occupied one, the smallest and
/// fastest store for many readings in a narrow band. Either way, past ``QuantileSketch/maxBinsPerSign`` bins
/// the lowest are folded into one, and the result does not depend on the order values came in: a bin below
/// the highest minus the limit counts in the lowest bin kept.
struct LogarithmicBins: Sendable {
    /// Occupied bins kept sparse before the counters turn dense.
    static let sparseLimit = 16

    /// Sparse form (while `counts` is empty): occupied bin indexes, ascending, and their counts.
    private var sparseIndexes: [Int32] = []
    private var sparseCounts: [Int64] = []
    /// Dense form: `counts[i]` is bin `lowest + i`.
    private var counts: [Int64] = []
    /// The bin index of `counts[0]`.
    private var lowest: Int32 = 0
    private(set) var total: Int64 = 0

    private var isDense: Bool { !counts.isEmpty }

    mutating func add(index: Int32, count: Int64) {
        if isDense {
            addDense(index: index, count: count)
        } else {
            addSparse(index: index, count: count)
        }
    }

    private mutating func addSparse(index: Int32, count: Int64) {
        total += count
        var index = index
        if let highest = sparseIndexes.last {
            let lowestKept = max(highest, index) - Int32(QuantileSketch.maxBinsPerSign) + 1
            if index < lowestKept { index = lowestKept }
            // A new highest bin may push older ones below the lowest kept: they join it.
            if let first = sparseIndexes.first, first < lowestKept {
                var folded: Int64 = 0
                var dropped = 0
                while dropped < sparseIndexes.count, sparseIndexes[dropped] < lowestKept {
                    folded += sparseCounts[dropped]
                    dropped += 1
                }
                sparseIndexes.removeFirst(dropped)
                sparseCounts.removeFirst(dropped)
                sparseIndexes.insert(lowestKept, at: 0)
                sparseCounts.insert(folded, at: 0)
                if sparseIndexes.count > 1, sparseIndexes[1] == lowestKept {
                    sparseCounts[1] += sparseCounts[0]
                    sparseIndexes.removeFirst()
                    sparseCounts.removeFirst()
                }
            }
        }
        var position = sparseIndexes.count
        while position > 0, sparseIndexes[position - 1] >= index { position -= 1 }
        if position < sparseIndexes.count, sparseIndexes[position] == index {
            sparseCounts[position] += count
            return
        }
        sparseIndexes.insert(index, at: position)
        sparseCounts.insert(count, at: position)
        if sparseIndexes.count > Self.sparseLimit { makeDense() }
    }

    private mutating func makeDense() {
        let (indexes, binCounts) = (sparseIndexes, sparseCounts)
        sparseIndexes = []
        sparseCounts = []
        total = 0
        lowest = indexes[0]
        counts = Array(repeating: 0, count: Int(indexes[indexes.count - 1] - lowest) + 1)
        for (index, binCount) in zip(indexes, binCounts) {
            counts[Int(index - lowest)] += binCount
            total += binCount
        }
    }

    private mutating func addDense(index: Int32, count: Int64) {
        total += count
        var index = index
        if index < lowest {
            let highest = lowest + Int32(counts.count) - 1
            let lowestKept = highest - Int32(QuantileSketch.maxBinsPerSign) + 1
            // Too wide: the value joins the lowest bin kept (it loses accuracy, the others keep it).
            if index < lowestKept { index = lowestKept }
            if index < lowest {
                counts.insert(contentsOf: repeatElement(0, count: Int(lowest - index)), at: 0)
                lowest = index
            }
        } else if Int(index - lowest) >= counts.count {
            counts.append(contentsOf: repeatElement(0, count: Int(index - lowest) - counts.count + 1))
            if counts.count > QuantileSketch.maxBinsPerSign {
                foldLowest(keeping: QuantileSketch.maxBinsPerSign)
            }
        }
        counts[Int(index - lowest)] += count
    }

    /// Folds the lowest bins into one so that `kept` remain.
    private mutating func foldLowest(keeping kept: Int) {
        guard counts.count > kept else { return }
        let folded = counts.count - kept
        let sum = counts[0...folded].reduce(0, +)
        counts.removeFirst(folded)
        counts[0] = sum
        lowest += Int32(folded)
    }

    mutating func merge(_ other: LogarithmicBins) {
        other.forEachAscending { index, binCount in
            add(index: index, count: binCount)
            return true
        }
    }

    /// Calls `body` with each occupied bin from the lowest index up, until it returns false.
    func forEachAscending(_ body: (Int32, Int64) -> Bool) {
        if !isDense {
            for (index, binCount) in zip(sparseIndexes, sparseCounts) where binCount > 0 {
                if !body(index, binCount) { return }
            }
            return
        }
        for (position, binCount) in counts.enumerated() where binCount > 0 {
            if !body(lowest + Int32(position), binCount) { return }
        }
    }

    /// Calls `body` with each occupied bin from the highest index down, until it returns false.
    func forEachDescending(_ body: (Int32, Int64) -> Bool) {
        if !isDense {
            for (index, binCount) in zip(sparseIndexes, sparseCounts).reversed() where binCount > 0 {
                if !body(index, binCount) { return }
            }
            return
        }
        for (position, binCount) in counts.enumerated().reversed() where binCount > 0 {
            if !body(lowest + Int32(position), binCount) { return }
        }
    }

    /// The dense layout whichever the form: the same readings give the same bytes.
    func encode(into bytes: inout [UInt8]) {
        let first = isDense ? lowest : (sparseIndexes.first ?? 0)
        // Zigzag, so that small negative indexes (magnitudes below 1) stay one or two bytes.
        Varint.append(UInt64(UInt32(bitPattern: (first << 1) ^ (first >> 31))), to: &bytes)
        if isDense {
            Varint.append(UInt64(counts.count), to: &bytes)
            for binCount in counts {
                Varint.append(UInt64(binCount), to: &bytes)
            }
            return
        }
        guard let last = sparseIndexes.last else {
            Varint.append(0, to: &bytes)
            return
        }
        Varint.append(UInt64(last - first + 1), to: &bytes)
        var next = first
        for (index, binCount) in zip(sparseIndexes, sparseCounts) {
            while next < index {
                bytes.append(0)
                next += 1
            }
            Varint.append(UInt64(binCount), to: &bytes)
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
        counts.reserveCapacity(Int(binCount))
        for _ in 0..<binCount {
            guard let binCount = Varint.decode(buffer, at: &index, end: buffer.count), binCount <= UInt64(Int64.max) else { return nil }
            let sum = total.addingReportingOverflow(Int64(binCount))
            guard !sum.overflow else { return nil }
            total = sum.partialValue
            counts.append(Int64(binCount))
        }
        guard Int(lowest) + counts.count <= Int(Int32.max) else { return nil }
        // Leading and trailing zeros carry nothing; an empty or zero-only array is the empty (sparse) form.
        while let last = counts.last, last == 0 { counts.removeLast() }
        let leading = counts.prefix { $0 == 0 }.count
        if leading > 0 {
            counts.removeFirst(leading)
            lowest += Int32(leading)
        }
    }
}

extension LogarithmicBins: Equatable {
    /// Equal when the same bins hold the same counts, whichever form each is in.
    static func == (left: LogarithmicBins, right: LogarithmicBins) -> Bool {
        guard left.total == right.total else { return false }
        var leftBins: [Int64] = [], rightBins: [Int64] = []
        left.forEachAscending { index, binCount in
            leftBins += [Int64(index), binCount]
            return true
        }
        right.forEachAscending { index, binCount in
            rightBins += [Int64(index), binCount]
            return true
        }
        return leftBins == rightBins
    }
}
