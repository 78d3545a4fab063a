// What a percentile costs per reading: QuantileSketch.add beside the floor a rollup already pays (count,
// sum, min, max, Welford's mean and M2), and a bucket's p50/p90/p99 from the sketch beside sorting the
// bucket's readings. Run: swift run -c release SketchBenchmark
import Foundation
import KappaCore

let readingsPerBucket = 600  // one reading a second for ten minutes
let buckets = 2_000
let values: [Double] = {
    var random = SplitMix64(seed: 42)
    func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
    return (0..<(readingsPerBucket * buckets)).map { index in
        let base = 15 + 10 * sin(Double(index) / 3_000)
        return base + 0.5 * (uniform() + uniform() + uniform() - 1.5)
    }
}()

func seconds(_ body: () -> Double) -> (seconds: Double, sink: Double) {
    var best = Double.infinity
    var sink = 0.0
    for _ in 0..<3 {
        let start = ContinuousClock.now
        sink += body()
        let (whole, attoseconds) = (ContinuousClock.now - start).components
        best = min(best, Double(whole) + Double(attoseconds) / 1e18)
    }
    return (best, sink)
}

let floor = seconds {
    var total = 0.0
    for bucket in 0..<buckets {
        var count = 0.0, sum = 0.0, low = Double.infinity, high = -Double.infinity, mean = 0.0, m2 = 0.0
        for value in values[(bucket * readingsPerBucket)..<((bucket + 1) * readingsPerBucket)] {
            count += 1
            sum += value
            low = min(low, value)
            high = max(high, value)
            let delta = value - mean
            mean += delta / count
            m2 += delta * (value - mean)
        }
        total += sum + low + high + m2
    }
    return total
}

var encodedBytes = 0
let sketched = seconds {
    var total = 0.0
    encodedBytes = 0
    for bucket in 0..<buckets {
        var sketch = QuantileSketch()
        for value in values[(bucket * readingsPerBucket)..<((bucket + 1) * readingsPerBucket)] {
            sketch.add(value)
        }
        total += sketch.quantile(0.5)! + sketch.quantile(0.9)! + sketch.quantile(0.99)!
        encodedBytes += sketch.encoded().count
    }
    return total
}

let exact = seconds {
    var total = 0.0
    for bucket in 0..<buckets {
        let sorted = values[(bucket * readingsPerBucket)..<((bucket + 1) * readingsPerBucket)].sorted()
        for q in [0.5, 0.9, 0.99] {
            total += sorted[Int((q * Double(sorted.count - 1)).rounded(.down))]
        }
    }
    return total
}

let readings = Double(values.count)
func line(_ label: String, _ measured: (seconds: Double, sink: Double)) -> String {
    String(format: "%@ %7.2f M readings/s  %6.1f ns/reading", label, readings / measured.seconds / 1e6, measured.seconds / readings * 1e9)
}
print("\(values.count) readings in \(buckets) buckets of \(readingsPerBucket), one core, best of 3")
print(line("rollup floor (count, sum, min, max, Welford):  ", floor))
print(line("quantile sketch, add + p50/p90/p99 per bucket: ", sketched))
print(line("exact: sort each bucket, p50/p90/p99:          ", exact))
print(String(format: "ratio sketch / exact (throughput):   %.2f", exact.seconds / sketched.seconds))
print(String(format: "ratio sketch / rollup floor:          %.2f", floor.seconds / sketched.seconds))
print("encoded sketch: \(encodedBytes / buckets) bytes per bucket (\(readingsPerBucket * 8) bytes of raw readings)")
print("(checksums \(Int(floor.sink)) \(Int(sketched.sink)) \(Int(exact.sink)))")
