/// The counters of one sign of a ``QuantileSketch``: a dense array covering the bin indexes from `lowest` to
/// the highest occupied one. Readings of one sensor stay within a narrow band of magnitudes, so a dense
/// array is both the smallest and the fastest store; past ``QuantileSketch/maxBinsPerSign`` the lowest bins
/// are folded into one.
struct LogarithmicBins: Sendable, Equatable {
    private var counts: [Int64] = []
    /// The bin index of `counts[0]`.
    private var lowest: Int32 = 0
    private(set) var total: Int64 = 0

    mutating func add(index: Int32, count: Int64) {
        total += count
        if counts.isEmpty {
            lowest = index
            counts = [count]
            return
        }
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
        guard !other.counts.isEmpty else { return }
        for (position, binCount) in other.counts.enumerated() where binCount > 0 {
            add(index: other.lowest + Int32(position), count: binCount)
        }
    }

    /// Calls `body` with each occupied bin from the lowest index up, until it returns false.
    func forEachAscending(_ body: (Int32, Int64) -> Bool) {
        for (position, binCount) in counts.enumerated() where binCount > 0 {
            if !body(lowest + Int32(position), binCount) { return }
        }
    }

    /// Calls `body` with each occupied bin from the highest index down, until it returns false.
    func forEachDescending(_ body: (Int32, Int64) -> Bool) {
        for (position, binCount) in counts.enumerated().reversed() where binCount > 0 {
            if !body(lowest + Int32(position), binCount) { return }
        }
    }

    func encode(into bytes: inout [UInt8]) {
        // Zigzag, so that small negative indexes (magnitudes below 1) stay one or two bytes.
        Varint.append(UInt64(UInt32(bitPattern: (lowest << 1) ^ (lowest >> 31))), to: &bytes)
        Varint.append(UInt64(counts.count), to: &bytes)
        for binCount in counts {
            Varint.append(UInt64(binCount), to: &bytes)
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
    }
}
