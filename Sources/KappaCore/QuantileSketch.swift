#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Percentiles of a stream of readings with a bounded *relative* error, in little memory, and mergeable
/// without loss: the DDSketch of Masson, Rim and Lee (VLDB 2019).
///
/// Values are counted in logarithmic bins: bin `i` holds the magnitudes in (γ^(i-1), γ^i] with
/// γ = (1 + α) / (1 − α). Any value in a bin is within α of the bin's representative 2γ^i / (γ + 1), so a
/// quantile read from the bins is within α (1 %) of the exact one, whatever the distribution. Two sketches
/// merge by adding their bins, so a 1-hour bucket's sketch made by merging its sixty 1-minute sketches is
/// the same sketch, bin for bin, as one fed every reading of the hour; merging is what lets rollups go
/// 1m → 1h → 1d without keeping readings.
///
/// Memory: up to 16 occupied bins, one counter each (a bucket of a few readings); beyond, one counter per bin
/// between the smallest and the largest magnitude seen: a sensor whose values span a factor of 10 needs
/// about 115 (see ``LogarithmicBins``). Past ``maxBinsPerSign`` bins the smallest magnitudes are
/// merged into one bin (their quantiles lose the guarantee, the larger ones keep it); a span that large
/// (a factor of about 10^17) does not occur in sensor data.
public struct QuantileSketch: Sendable, Equatable {
    /// The bound on the relative error of every quantile (while no bins were merged away).
    public static let relativeAccuracy = 0.01
    /// The most bins kept for each sign.
    public static let maxBinsPerSign = 2048
    /// Magnitudes below this count as zero: they would need bins far below any physical reading.
    public static let smallestMagnitude = 1e-9

    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let inverseLogGamma = 1 / log(gamma)

    public private(set) var count: Int64 = 0
    public private(set) var min = Double.infinity
    public private(set) var max = -Double.infinity
    private var zeroCount: Int64 = 0
    private var positive = LogarithmicBins()
    private var negative = LogarithmicBins()

    public init() {}

    /// Counts `value`; values that are not finite are ignored (intake never stores them).
    public mutating func add(_ value: Double) {
        guard value.isFinite else { return }
        count += 1
        if value < min { min = value }
        if value > max { max = value }
        let magnitude = Swift.abs(value)
        if magnitude < Self.smallestMagnitude {
            zeroCount += 1
        } else if value > 0 {
            positive.add(index: Self.binIndex(magnitude), count: 1)
        } else {
            negative.add(index: Self.binIndex(magnitude), count: 1)
        }
    }

    /// Adds `other`'s readings: the result is the sketch of both streams.
    public mutating func merge(_ other: QuantileSketch) {
        guard other.count > 0 else { return }
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        zeroCount += other.zeroCount
        positive.merge(other.positive)
        negative.merge(other.negative)
    }

    /// The value at quantile `q` (0 ≤ q ≤ 1) of the readings counted: within ``relativeAccuracy`` of the
    /// exact `q`-quantile, taken as the reading of rank ⌊q (count − 1)⌋ in ascending order (0-based), and
    /// never outside [min, max]. nil while empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0, q >= 0, q <= 1 else { return nil }
        let rank = Self.rank(of: q, count: count)
        var seen: Int64 = 0
        var estimate: Double?
        // Ascending order: the negative magnitudes from the largest, then zero, then the positive ones.
        negative.forEachDescending { index, binCount in
            seen += binCount
            if seen > rank {
                estimate = -Self.representative(ofBin: index)
                return false
            }
            return true
        }
        if estimate == nil {
            seen += zeroCount
            if seen > rank { estimate = 0 }
        }
        if estimate == nil {
            positive.forEachAscending { index, binCount in
                seen += binCount
                if seen > rank {
                    estimate = Self.representative(ofBin: index)
                    return false
                }
                return true
            }
        }
        return estimate.map { Swift.min(Swift.max($0, min), max) }
    }

    /// ``quantile(_:)`` of each of `qs`, handed to `body` in their order, from one walk of the bins when `qs`
    /// ascend within 0…1 (a writer reading p50, p90 and p99 of every row walks the bins once, not three times);
    /// otherwise one ``quantile(_:)`` each. Every value is the one ``quantile(_:)`` gives.
    public func forEachQuantile(of qs: [Double], _ body: (Double?) -> Void) {
        guard count > 0 else {
            for _ in qs { body(nil) }
            return
        }
        guard qs.allSatisfy({ $0 >= 0 && $0 <= 1 }), zip(qs, qs.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            for q in qs { body(quantile(q)) }
            return
        }
        var next = 0
        var nextRank = qs.isEmpty ? 0 : Self.rank(of: qs[0], count: count)
        var seen: Int64 = 0
        let lowest = min, highest = max
        // Hands out every quantile whose rank the values counted so far reach (`seen`), at `estimate`.
        func emit(_ estimate: @autoclosure () -> Double) -> Bool {
            guard next < qs.count, seen > nextRank else { return next < qs.count }
            let value = Swift.min(Swift.max(estimate(), lowest), highest)
            while next < qs.count, seen > nextRank {
                body(value)
                next += 1
                if next < qs.count { nextRank = Self.rank(of: qs[next], count: count) }
            }
            return next < qs.count
        }
        // Ascending order, as quantile(_:) walks it.
        negative.forEachDescending { index, binCount in
            seen += binCount
            return emit(-Self.representative(ofBin: index))
        }
        seen += zeroCount
        if emit(0) {
            positive.forEachAscending { index, binCount in
                seen += binCount
                return emit(Self.representative(ofBin: index))
            }
        }
        while next < qs.count {
            body(nil)
            next += 1
        }
    }

    /// The 0-based rank in ascending order that ``quantile(_:)`` reads for `q`.
    @inline(__always)
    static func rank(of q: Double, count: Int64) -> Int64 {
        Int64((q * Double(count - 1)).rounded(.down))
    }

    static func binIndex(_ magnitude: Double) -> Int32 {
        Int32((log(magnitude) * inverseLogGamma).rounded(.up))
    }

    static func representative(ofBin index: Int32) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }
}

extension QuantileSketch {
    private static let encodingVersion: UInt8 = 1

    /// The sketch as bytes, for a checkpoint or a `bytea` column: a version byte, the count, min and max,
    /// the zero count, then each sign's bins (first index, bin count, counts) as varints.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        encode(into: &bytes)
        return bytes
    }

    /// Appends ``encoded()``'s bytes to `bytes`: a writer encoding a sketch per row reuses one buffer.
    public func encode(into bytes: inout [UInt8]) {
        bytes.append(Self.encodingVersion)
        Varint.append(UInt64(count), to: &bytes)
        appendBits(min, to: &bytes)
        appendBits(max, to: &bytes)
        Varint.append(UInt64(zeroCount), to: &bytes)
        positive.encode(into: &bytes)
        negative.encode(into: &bytes)
    }

    /// Decodes ``encoded()``'s bytes; nil when they are not a sketch of this version or do not add up.
    public init?(encoded bytes: [UInt8]) {
        let decoded: QuantileSketch? = bytes.withUnsafeBytes { buffer in
            guard buffer.count > 0, buffer[0] == Self.encodingVersion else { return nil }
            var index = 1
            var sketch = QuantileSketch()
            guard let count = Varint.decode(buffer, at: &index, end: buffer.count), count <= UInt64(Int64.max),
                  let min = readBits(buffer, at: &index), let max = readBits(buffer, at: &index),
                  let zeroCount = Varint.decode(buffer, at: &index, end: buffer.count), zeroCount <= count,
                  let positive = LogarithmicBins(decoding: buffer, at: &index),
                  let negative = LogarithmicBins(decoding: buffer, at: &index),
                  index == buffer.count
            else { return nil }
            sketch.count = Int64(count)
            sketch.min = min
            sketch.max = max
            sketch.zeroCount = Int64(zeroCount)
            sketch.positive = positive
            sketch.negative = negative
            let binned = sketch.zeroCount.addingReportingOverflow(positive.total)
            let all = binned.partialValue.addingReportingOverflow(negative.total)
            guard !binned.overflow, !all.overflow, all.partialValue == sketch.count else { return nil }
            guard sketch.count == 0 || (min.isFinite && max.isFinite && min <= max) else { return nil }
            return sketch
        }
        guard let decoded else { return nil }
        self = decoded
    }
}

private func appendBits(_ value: Double, to bytes: inout [UInt8]) {
    var bits = value.bitPattern
    for _ in 0..<8 {
        bytes.append(UInt8(truncatingIfNeeded: bits))
        bits >>= 8
    }
}

private func readBits(_ buffer: UnsafeRawBufferPointer, at index: inout Int) -> Double? {
    guard index + 8 <= buffer.count else { return nil }
    var bits: UInt64 = 0
    for shift in 0..<8 {
        bits |= UInt64(buffer[index + shift]) << (8 * UInt64(shift))
    }
    index += 8
    return Double(bitPattern: bits)
}
