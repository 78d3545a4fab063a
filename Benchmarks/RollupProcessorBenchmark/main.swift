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
import BenchmarkSupport
import KappaCore
import KappaLog
import KappaStream

let readingCount = Int(option("--readings") ?? "") ?? 2_000_000
let rounds = Int(option("--rounds") ?? "") ?? 3
let partitions = KappaStreams.defaultReadingPartitions
let start = Int64(1_795_000_000) * 1_000_000

// Partitioned as the log would (by device), each partition in append order.
var records = [[LogRecord]](repeating: [], count: partitions)
rollupFleetReadings(count: readingCount, start: start) { series, reading in
    let partition = (series / 5) % partitions
    records[partition].append(LogRecord(offset: Int64(records[partition].count), eventTime: reading.time, key: Array(reading.device.utf8)[...], value: ReadingRecord.encode(reading)[...]))
}

let clock = ContinuousClock()

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
