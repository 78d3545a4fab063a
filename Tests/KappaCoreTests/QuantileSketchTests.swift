import Foundation
import KappaCore
import Testing

@Suite("Quantile sketch")
struct QuantileSketchTests {
    static let quantiles: [Double] = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1]

    /// The reading of rank ⌊q (n − 1)⌋, the definition the sketch's guarantee is stated against.
    static func exactQuantile(_ q: Double, of sorted: [Double]) -> Double {
        sorted[Int((q * Double(sorted.count - 1)).rounded(.down))]
    }

    static func sample(_ distribution: String, count: Int, seed: UInt64) -> [Double] {
        var random = SplitMix64(seed: seed)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        func normal() -> Double {
            let u1 = max(uniform(), 1e-300), u2 = uniform()
            return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
        return (0..<count).map { _ in
            switch distribution {
            case "temperature": return 21.5 + 0.8 * normal()
            case "around zero": return 3 * normal()
            case "lognormal": return exp(2 + 3 * normal())
            case "heavy tail": return 1 / max(uniform(), 1e-12)
            case "counter": return Double(random.next() % 50)
            case "power": return uniform() < 0.3 ? 0 : 50 + 4_000 * uniform()
            default: return -40 + 120 * uniform()
            }
        }
    }

    @Test(
        "every quantile lies within 1 % of the exact one",
        arguments: ["temperature", "around zero", "lognormal", "heavy tail", "counter", "power", "uniform"]
    )
    func relativeAccuracy(distribution: String) throws {
        let values = Self.sample(distribution, count: 50_000, seed: 7)
        var sketch = QuantileSketch()
        for value in values { sketch.add(value) }
        let sorted = values.sorted()
        #expect(sketch.count == Int64(values.count))
        #expect(sketch.min == sorted.first)
        #expect(sketch.max == sorted.last)
        for q in Self.quantiles {
            let exact = Self.exactQuantile(q, of: sorted)
            let estimate = try #require(sketch.quantile(q))
            #expect(
                abs(estimate - exact) <= QuantileSketch.relativeAccuracy * abs(exact) + 1e-12,
                "q \(q): estimate \(estimate), exact \(exact)"
            )
        }
    }

    @Test("sixty merged minutes are the hour's sketch, bin for bin")
    func mergeEqualsWhole() {
        let values = Self.sample("temperature", count: 36_000, seed: 11)
        var hour = QuantileSketch()
        for value in values { hour.add(value) }

        var merged = QuantileSketch()
        for minute in 0..<60 {
            var sketch = QuantileSketch()
            for value in values[(minute * 600)..<((minute + 1) * 600)] { sketch.add(value) }
            merged.merge(sketch)
        }
        #expect(merged == hour)
        #expect(merged.quantile(0.99) == hour.quantile(0.99))

        // In any order and grouping.
        var reversed = QuantileSketch()
        for value in values.reversed() { reversed.add(value) }
        #expect(reversed == hour)
    }

    @Test("a few readings far apart stay a few counters; in any order, grouping and form they are the same sketch and bytes")
    func fewReadingsOverManyMagnitudes() throws {
        var random = SplitMix64(seed: 23)
        // 1 to 40 readings uniform over 0 … 16,777 (the rollup benchmark's values): below and past the sparse limit.
        for count in [1, 6, 16, 17, 40] {
            let values = (0..<count).map { _ in Double(random.next() % 16_777_000) / 1000 }
            var forward = QuantileSketch()
            for value in values { forward.add(value) }
            var backward = QuantileSketch()
            for value in values.reversed() { backward.add(value) }
            var grouped = QuantileSketch()
            for chunk in stride(from: 0, to: count, by: 5) {
                var part = QuantileSketch()
                for value in values[chunk..<min(chunk + 5, count)] { part.add(value) }
                grouped.merge(part)
            }
            #expect(forward == backward && forward == grouped, "\(count) readings")
            #expect(forward.encoded() == backward.encoded() && forward.encoded() == grouped.encoded(), "\(count) readings")
            let decoded = try #require(QuantileSketch(encoded: forward.encoded()))
            #expect(decoded == forward)
            var decodedThenMerged = decoded
            decodedThenMerged.merge(forward)
            var twice = forward
            twice.merge(forward)
            #expect(decodedThenMerged == twice, "a decoded (dense) sketch merges like the sparse one")
            let sorted = values.sorted()
            for q in Self.quantiles {
                let exact = Self.exactQuantile(q, of: sorted)
                let estimate = try #require(forward.quantile(q))
                #expect(abs(estimate - exact) <= QuantileSketch.relativeAccuracy * abs(exact) + 1e-9, "\(count) readings, q \(q)")
            }
        }
    }

    @Test("an empty sketch has no quantiles; a quantile outside [0, 1] is refused; NaN and infinities are not counted")
    func edges() {
        var sketch = QuantileSketch()
        #expect(sketch.quantile(0.5) == nil)
        sketch.add(.nan)
        sketch.add(.infinity)
        sketch.add(-.infinity)
        #expect(sketch.count == 0)
        sketch.add(42)
        #expect(sketch.quantile(-0.1) == nil)
        #expect(sketch.quantile(1.1) == nil)
        // One reading: every quantile is that reading (clamped to [min, max]).
        #expect(sketch.quantile(0) == 42)
        #expect(sketch.quantile(1) == 42)
        sketch.merge(QuantileSketch())
        #expect(sketch.count == 1)
    }

    @Test("bytes round trip; truncated or altered bytes decode to nil or a consistent sketch, never a crash")
    func encoding() throws {
        var sketch = QuantileSketch()
        for value in Self.sample("around zero", count: 5_000, seed: 3) { sketch.add(value) }
        sketch.add(0)
        let bytes = sketch.encoded()
        #expect(QuantileSketch(encoded: bytes) == sketch)
        #expect(QuantileSketch(encoded: QuantileSketch().encoded()) == QuantileSketch())
        // A temperature's hour stays small: about two bytes per occupied bin.
        #expect(bytes.count < 1_024)

        for length in 0..<bytes.count {
            #expect(QuantileSketch(encoded: Array(bytes[..<length])) == nil)
        }
        var random = SplitMix64(seed: 5)
        for _ in 0..<2_000 {
            var altered = bytes
            altered[Int(random.next() % UInt64(altered.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            if let decoded = QuantileSketch(encoded: altered) {
                // Whatever decodes answers every quantile without trapping.
                for q in Self.quantiles { _ = decoded.quantile(q) }
            }
        }
    }

    @Test("past the bin limit the smallest magnitudes fold together; the largest keep their accuracy")
    func foldingKeepsTheLargestQuantiles() throws {
        // Magnitudes from 1e-8 to 1e300: far more bins than the limit.
        let values = (-8...300).map { pow(10, Double($0)) }
        var generator = SplitMix64(seed: 13)
        var sketch = QuantileSketch()
        for value in values.shuffled(using: &generator) { sketch.add(value) }
        #expect(sketch.count == Int64(values.count))
        #expect(QuantileSketch(encoded: sketch.encoded()) == sketch)
        let sorted = values.sorted()
        var checked = 0
        for q in stride(from: 0.0, through: 1.0, by: 0.01) {
            let exact = Self.exactQuantile(q, of: sorted)
            // 2048 bins of ratio γ span a factor of about 6e17 below the maximum.
            guard exact >= sorted.last! / 1e17 else { continue }
            let estimate = try #require(sketch.quantile(q))
            #expect(abs(estimate - exact) <= QuantileSketch.relativeAccuracy * exact, "q \(q)")
            checked += 1
        }
        #expect(checked > 3)
        #expect(sketch.quantile(0)! >= sketch.min)
    }

    @Test(
        "quantiles read in one walk of the bins are each the one quantile(_:) gives",
        arguments: ["temperature", "around zero", "lognormal", "heavy tail", "counter", "power", "uniform"]
    )
    func oneWalkGivesEachQuantile(distribution: String) {
        // Sizes from one reading (sparse bins) to dense ones, so every form of the bins and the zero bin is walked.
        for count in [1, 2, 5, 17, 300, 20_000] {
            var sketch = QuantileSketch()
            for value in Self.sample(distribution, count: count, seed: UInt64(count)) { sketch.add(value) }
            for qs in [[0.5, 0.9, 0.99], Self.quantiles, [0.9, 0.5, 0.99], [0.5, 0.5, 1], [-0.1, 0.5, 2], []] {
                var walked: [Double?] = []
                sketch.forEachQuantile(of: qs) { walked.append($0) }
                #expect(walked == qs.map { sketch.quantile($0) }, "\(distribution), \(count) readings, \(qs)")
            }
        }
        var empty: [Double?] = []
        QuantileSketch().forEachQuantile(of: [0.5, 0.9]) { empty.append($0) }
        #expect(empty == [nil, nil])
    }
}
