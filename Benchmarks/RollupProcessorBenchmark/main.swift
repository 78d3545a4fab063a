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
//
// With `--checkpoint-every n` the readings go in fleet order with a checkpoint's kappa-side work every n readings,
// as `kappa run` does (`processors.max_batch_records`, 50,000): the watermark resolution of the series new to the
// processor (none stored), the sketches merged upward, the writer's COPY rows of every pending cell into one
// buffer (not sent), then `committed()`. `--series` sets the fleet's series (default 5,000), so the cost of many
// series shows; ScaleBenchmark's 100 k size with 3 readings per series is
//   valgrind --tool=callgrind .build/release/RollupProcessorBenchmark --series 100000 --readings 300000 --checkpoint-every 50000 --rounds 1
import BenchmarkSupport
import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream

let readingCount = Int(option("--readings") ?? "") ?? 2_000_000
let rounds = Int(option("--rounds") ?? "") ?? 3
let seriesCount = Int(option("--series") ?? "") ?? 5000
let checkpointEvery = Int(option("--checkpoint-every") ?? "")
let partitions = KappaStreams.defaultReadingPartitions
let start = Int64(1_795_000_000) * 1_000_000

// Partitioned as the log would (by device), each partition in append order.
var records = [[LogRecord]](repeating: [], count: partitions)
// The same records in fleet order, as (partition, index in it): the order a live log is read in.
var fleetOrder: [(partition: Int, index: Int)] = []
rollupFleetReadings(count: readingCount, series: seriesCount, start: start) { series, reading in
    let partition = (series / 5) % partitions
    if checkpointEvery != nil { fleetOrder.append((partition, records[partition].count)) }
    records[partition].append(LogRecord(offset: Int64(records[partition].count), eventTime: reading.time, key: Array(reading.device.utf8)[...], value: ReadingRecord.encode(reading)[...]))
}

let clock = ContinuousClock()

/// The checkpoint's work in kappa before anything is sent: as `RollupWriter.write` does it, into one buffer
/// (the series' dictionary ids stand in as their numbers + 1: learning them is a database round trip).
@inline(never)
func checkpointRows(_ processor: RollupProcessor) -> Int {
    processor.resolve(storedWatermarks: [:])
    let sketches = processor.pendingSketches()
    let widthSeconds = processor.widths.map { Int32($0) }
    var rows = PostgresBinaryCopyEncoder()
    var row: Int32 = 0
    var sent = 0
    var scratch: [UInt8] = []
    for (key, cell) in processor.cells {
        RollupWriter.appendDelta(
            key: key, cell: cell, seriesId: Int32(key.series) + 1, widthSeconds: widthSeconds[Int(key.width)], sketch: sketches[Int(cell.sketchSlot)],
            row: row, mayBeStored: processor.mayBeStored(key), scratch: &scratch, to: &rows
        )
        row += 1
        // As PostgresCopyWriter.flushIfNeeded: the buffer is handed out at 1 MiB and refilled at the same capacity.
        if rows.bytes.count >= 1 << 20 { sent += rows.takeBytes().count }
    }
    rows.appendTrailer()
    return sent + rows.bytes.count
}

if let checkpointEvery {
    var bestApply = Double.infinity, bestCheckpoint = Double.infinity
    var rowBytes = 0, cellsWritten = 0, checkpoints = 0
    for _ in 0..<rounds {
        let processor = RollupProcessor(widths: [60, 3600, 86_400], partitionCount: partitions, duplicateWindowRecords: 4096)
        var applying = Duration.zero, checkpointing = Duration.zero
        rowBytes = 0
        cellsWritten = 0
        checkpoints = 0
        var next = 0
        while next < fleetOrder.count {
            let end = min(next + checkpointEvery, fleetOrder.count)
            applying += clock.measure {
                for (partition, index) in fleetOrder[next..<end] { processor.apply(records[partition][index], partition: partition) }
            }
            cellsWritten += processor.pendingCellCount
            checkpointing += clock.measure {
                rowBytes += checkpointRows(processor)
                processor.committed()
            }
            checkpoints += 1
            next = end
        }
        bestApply = min(bestApply, seconds(applying))
        bestCheckpoint = min(bestCheckpoint, seconds(checkpointing))
    }
    let count = Double(readingCount)
    print("\(readingCount) readings of \(seriesCount) series, \(checkpoints) checkpoints of \(checkpointEvery), \(cellsWritten) cells written (\(rowBytes) COPY bytes), best of \(rounds) rounds")
    print("checkpoints (resolve + sketches + COPY rows + committed), per reading: \(Int(count / bestCheckpoint)) readings/s   state updates: \(Int(count / bestApply)) readings/s   ratio \(bestApply / bestCheckpoint)")
} else {
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
}
