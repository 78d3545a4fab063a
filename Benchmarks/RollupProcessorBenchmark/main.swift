// The rollup processor's state updates alone (decode, dedupe, three widths, percentile sketches), one core,
// no log files and no database, beside decoding the same records alone, in the same run. RollupBenchmark's
// readings: 1,000 devices × 5 metrics, one reading per series every 10 s in time order, values uniform over
// 0…16,777 (a new sketch bin for most readings: the sketch's worst case).
//
// Synchronous on purpose, so `valgrind --tool=callgrind` can count its instructions (an async main does not
// run under callgrind here):
//   swift build -c release --product RollupProcessorBenchmark
//   .build/release/RollupProcessorBenchmark [--readings 2000000] [--rounds 3]
//   valgrind --tool=callgrind .build/release/RollupProcessorBenchmark --readings 200000 --rounds 1
import KappaCore
import KappaLog
import KappaStream

func option(_ name: String) -> String? {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count else { return nil }
    return CommandLine.arguments[index + 1]
}

let readingCount = Int(option("--readings") ?? "") ?? 2_000_000
let rounds = Int(option("--rounds") ?? "") ?? 3
let partitions = KappaStreams.defaultReadingPartitions
let start = Int64(1_795_000_000) * 1_000_000

// Partitioned as the log would (by device), each partition in append order.
var records = [[LogRecord]](repeating: [], count: partitions)
var state: UInt64 = 1
for index in 0..<readingCount {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    let series = index % 5000
    let reading = Reading(
        device: "device-\(series / 5)", metric: "metric-\(series % 5)",
        time: Timestamp(microsecondsSinceEpoch: start + Int64(index / 5000) * 10_000_000 + Int64(series)),
        value: Double(state >> 40) / 1000
    )
    let partition = (series / 5) % partitions
    records[partition].append(LogRecord(offset: Int64(records[partition].count), eventTime: reading.time, key: Array(reading.device.utf8)[...], value: ReadingRecord.encode(reading)[...]))
}

let clock = ContinuousClock()
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

var bestDecode = Double.infinity, bestApply = Double.infinity, bestMerge = Double.infinity
var checksum = 0.0
var cells = 0
for _ in 0..<rounds {
    bestDecode = min(bestDecode, seconds(clock.measure {
        for partitionRecords in records {
            for record in partitionRecords {
                if let reading = try? record.value.withUnsafeBytes({ try ReadingRecord.decode($0) }) { checksum += reading.value }
            }
        }
    }))
    let processor = RollupProcessor(widths: [60, 3600, 86_400], partitionCount: partitions, duplicateWindowRecords: 4096)
    bestApply = min(bestApply, seconds(clock.measure {
        for (partition, partitionRecords) in records.enumerated() {
            for record in partitionRecords { processor.apply(record, partition: partition) }
        }
    }))
    cells = processor.pendingCellCount
    bestMerge = min(bestMerge, seconds(clock.measure { checksum += Double(processor.pendingSketches().count) }))
}
let count = Double(readingCount)
print("\(readingCount) readings, \(cells) cells, best of \(rounds) rounds (checksum \(checksum))")
print("processor alone (decode + dedupe + 3 widths): \(Int(count / bestApply)) readings/s   decode only: \(Int(count / bestDecode)) readings/s   ratio \((count / bestApply) / (count / bestDecode))")
print("checkpoint's sketch merge upward, per reading: \(Int(count / bestMerge)) readings/s   state updates: \(Int(count / bestApply)) readings/s   ratio \(bestApply / bestMerge)")
