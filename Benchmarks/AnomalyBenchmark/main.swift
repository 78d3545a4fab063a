// Readings per second through every anomaly detector (one core, no database), beside a floor measured in the
// same run: a plain pass that only finds each reading's series and updates an EWMA mean; and the anomaly
// processor's per-record work (decode, dedupe, engine) beside the rollup processor's state updates over the
// same log records (decode, dedupe, three widths), as RollupBenchmark measures it.
// Run: swift run -c release AnomalyBenchmark
import Foundation
import KappaCore
import KappaLog
import KappaStream

// MARK: A fleet's stream: daily cycles, noise, drift, occasional spikes and stuck runs, several cadences

extension SplitMix64 {
    /// Sum of four uniforms: near-Gaussian noise, cheap enough not to dominate generation.
    mutating func noise() -> Double { (unit() + unit() + unit() + unit() - 2) * 1.7 }
}

let devices = 5_000
let metrics = ["temperature", "humidity", "co2"]
let steps = 200
let start = Timestamp(secondsSinceEpoch: 1_795_000_000).nanosecondsSinceEpoch
func makeReadings() -> [Reading] {
    var random = SplitMix64(seed: 42)
    let deviceNames = (0..<devices).map { String(format: "env-%05d", $0) }
    let phases = (0..<devices).map { _ in random.unit() * 6.28 }
    var readings: [Reading] = []
    readings.reserveCapacity(devices * metrics.count * steps)
    for step in 0..<steps {
        for d in 0..<devices {
            let time = start + Int64(step) * 10_000_000_000 + Int64(d % 1_000) * 9_000_000
            let seconds = Double(time - start) / 1e9
            for (m, metric) in metrics.enumerated() {
                var value = 20 + 10 * Double(m) + 4 * sin(seconds / 13_750 + phases[d]) + 0.2 * random.noise()
                if random.next() % 2_000 == 0 { value += 5 }   // a spike now and then
                if (d + m) % 97 == 0, step > 120, step < 160 { value = 42 }   // a stuck sensor
                readings.append(Reading(device: deviceNames[d], metric: metric, time: Timestamp(nanosecondsSinceEpoch: time), value: value))
            }
        }
    }
    return readings
}
let readings = makeReadings()

// MARK: Measuring

func seconds(_ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    let began = clock.now
    body()
    let (whole, attoseconds) = (clock.now - began).components
    return Double(whole) + Double(attoseconds) / 1e18
}

struct Key: Hashable {
    var device: String
    var metric: String
}

/// The floor: find the series, update one EWMA mean.
func ewmaPass() -> (seconds: Double, sink: Double) {
    var index: [Key: Int] = [:]
    var means: [Double] = []
    let elapsed = seconds {
        for reading in readings {
            let key = Key(device: reading.device, metric: reading.metric)
            if let i = index[key] {
                means[i] += 0.1 * (reading.value - means[i])
            } else {
                index[key] = means.count
                means.append(reading.value)
            }
        }
    }
    return (elapsed, means.reduce(0, +))
}

/// Every detector, with the watermark advanced after each reading as the runtime does.
func enginePass() -> (seconds: Double, events: Int, snapshotBytes: Int) {
    var configuration = AnomalyConfiguration()
    try! configuration.override("temperature", [.init("min", -20), .init("max", 60), .init("max_rate_per_second", 1)])
    var engine = AnomalyEngine(configuration: configuration)
    var events: [AnomalyEvent] = []
    events.reserveCapacity(1 << 16)
    var total = 0
    var latest = Timestamp(nanosecondsSinceEpoch: .min)
    let elapsed = seconds {
        for reading in readings {
            engine.process(reading, into: &events)
            if reading.time > latest {
                latest = reading.time
                engine.advanceWatermark(partitionTime: latest, into: &events)
            }
            if events.count > 60_000 {
                total += events.count
                events.removeAll(keepingCapacity: true)
            }
        }
    }
    return (elapsed, total + events.count, engine.snapshot().count)
}

func millions(_ perSecond: Double) -> String { String(format: "%7.2f M/s", perSecond / 1e6) }

let count = Double(readings.count)
print("\(readings.count) readings, \(devices * metrics.count) series (\(devices) devices × \(metrics.count) metrics), one core")
var bestFloor = Double.infinity, bestEngine = Double.infinity
var events = 0, snapshotBytes = 0, sink = 0.0
for _ in 0..<3 {
    let floor = ewmaPass()
    bestFloor = min(bestFloor, floor.seconds)
    sink += floor.sink
    let engine = enginePass()
    bestEngine = min(bestEngine, engine.seconds)
    events = engine.events
    snapshotBytes = engine.snapshotBytes
}
print("floor: series lookup + EWMA mean  \(millions(count / bestFloor))  \(String(format: "%6.1f", bestFloor / count * 1e9)) ns/reading")
print("anomaly engine, all detectors     \(millions(count / bestEngine))  \(String(format: "%6.1f", bestEngine / count * 1e9)) ns/reading")
print(String(format: "ratio engine/floor (throughput)     %.2f", bestFloor / bestEngine))
print("events emitted: \(events); snapshot: \(snapshotBytes) bytes (\(snapshotBytes / (devices * metrics.count)) per series); best of 3 (checksum \(Int(sink) % 10))")

// MARK: The processors' per-record work over the same log records, one partition, no database

let records: [LogRecord] = readings.enumerated().map { offset, reading in
    LogRecord(offset: Int64(offset), eventTime: reading.time, key: ArraySlice(reading.device.utf8), value: ArraySlice(ReadingRecord.encode(reading)))
}
var bestAnomaly = Double.infinity, bestRollup = Double.infinity
var pipelineEvents = 0, rollupCells = 0
for _ in 0..<3 {
    var pipeline = AnomalyPipeline(configuration: AnomalyConfiguration(), partitionCount: 1, duplicateWindowRecords: 4096)
    var pending: [AnomalyEvent] = []
    bestAnomaly = min(bestAnomaly, seconds {
        for record in records {
            pipeline.apply(record, partition: 0, into: &pending)
            if pending.count > 60_000 {
                pipelineEvents += pending.count
                pending.removeAll(keepingCapacity: true)
            }
        }
    })
    let rollups = RollupProcessor(widths: [60, 3600, 86_400], partitionCount: 1, duplicateWindowRecords: 4096)
    bestRollup = min(bestRollup, seconds {
        for record in records { rollups.apply(record, partition: 0) }
    })
    rollupCells = rollups.pendingCellCount
}
print("anomaly processor (decode + dedupe + all detectors)  \(millions(count / bestAnomaly))  \(String(format: "%6.1f", bestAnomaly / count * 1e9)) ns/reading")
print("rollup processor (decode + dedupe + 3 widths)        \(millions(count / bestRollup))  \(String(format: "%6.1f", bestRollup / count * 1e9)) ns/reading")
print(String(format: "ratio anomaly/rollup (throughput)   %.2f", bestRollup / bestAnomaly))
print("(\(rollupCells) rollup cells; best of 3)")
