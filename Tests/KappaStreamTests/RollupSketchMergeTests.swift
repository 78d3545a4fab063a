import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import Testing

/// The processor's upward merge of sketches and the writer's rows, without a database: what a checkpoint
/// computes from the pending cells equals what the readings say directly.
@Suite struct RollupSketchMergeTests {
    /// 1m feeds both 2m and 5m (a source with two targets); 5m feeds 1h (a chain); 90 s is fed from readings.
    static let widths: [Int64] = [60, 90, 120, 300, 3600]

    static func readings(count: Int, from start: Int64, seed: UInt64) -> [Reading] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { index in
            let series = index % 7
            // Out of order within a few minutes, so some readings come late for the narrow widths.
            let jitter = Int64(random.next() % 400_000_000)
            return Reading(
                device: "device-\(series % 3)", metric: "metric-\(series)",
                time: Timestamp(microsecondsSinceEpoch: start + Int64(index) * 3_000_000 - jitter),
                value: Double(random.next() % 100_000) / 100 - 300
            )
        }
    }

    static func apply(_ readings: [Reading], to processor: RollupProcessor, firstOffset: Int64) {
        for (index, reading) in readings.enumerated() {
            let record = LogRecord(
                offset: firstOffset + Int64(index), eventTime: reading.time, key: Array(reading.device.utf8)[...],
                value: ReadingRecord.encode(reading)[...]
            )
            processor.apply(record, partition: 0)
        }
    }

    /// The sketch of every pending cell, derived widths included, equals one fed its bucket's readings.
    static func expectSketchesMatchReadings(of processor: RollupProcessor, _ readings: [Reading]) {
        let sketches = processor.pendingSketches()
        #expect(sketches.count == processor.pendingCellCount)
        var numbers: [SeriesName: UInt32] = [:]
        for key in processor.cells.keys { numbers[processor.seriesNames[key.series]] = key.series }
        struct Cell: Hashable { var series: UInt32, width: Int32, bucket: Int64 }
        var expected: [Cell: QuantileSketch] = [:]
        for reading in readings {
            let series = numbers[SeriesName(device: reading.device, metric: reading.metric)]!
            for (index, width) in widths.enumerated() {
                let bucket = RollupProcessor.floor(reading.time.microsecondsSinceEpoch, width * 1_000_000)
                expected[Cell(series: series, width: Int32(index), bucket: bucket), default: QuantileSketch()].add(reading.value)
            }
        }
        #expect(expected.count == processor.pendingCellCount)
        for (key, cell) in processor.cells {
            #expect(sketches[Int(cell.sketchSlot)] == expected[Cell(series: key.series, width: key.width, bucket: key.bucket)], "width \(widths[Int(key.width)]) s, bucket \(key.bucket)")
            #expect(sketches[Int(cell.sketchSlot)].count == cell.count)
        }
    }

    @Test func derivedWidthsGetTheSketchOfTheirReadingsAcrossCheckpoints() {
        let processor = RollupProcessor(widths: Self.widths, partitionCount: 1, duplicateWindowRecords: 16)
        let start = Int64(1_795_000_000) * 1_000_000
        let first = Self.readings(count: 3_000, from: start, seed: 1)
        Self.apply(first, to: processor, firstOffset: 0)
        Self.expectSketchesMatchReadings(of: processor, first)
        // Asked twice (a retried checkpoint), the answer is the same.
        #expect(processor.pendingSketches() == processor.pendingSketches())
        processor.committed()
        #expect(processor.pendingCellCount == 0)
        let second = Self.readings(count: 2_000, from: start + 3_000 * 3_000_000, seed: 2)
        Self.apply(second, to: processor, firstOffset: Int64(first.count))
        Self.expectSketchesMatchReadings(of: processor, second)
    }

    /// The writer's row, with its fixed-width fields written as one block, is byte for byte the row appended
    /// field by field.
    @Test func deltaRowsEqualTheFieldByFieldEncoding() throws {
        let processor = RollupProcessor(widths: Self.widths, partitionCount: 1, duplicateWindowRecords: 16)
        var readings = Self.readings(count: 500, from: Int64(1_795_000_000) * 1_000_000, seed: 3)
        readings[7].unit = "°C"
        Self.apply(readings, to: processor, firstOffset: 0)
        let sketches = processor.pendingSketches()
        var scratch: [UInt8] = []
        var row: Int32 = 0
        for (key, cell) in processor.cells {
            let seriesId = Int32(key.series) * 7 + 1
            let sketch = sketches[Int(cell.sketchSlot)]
            var written = PostgresBinaryCopyEncoder()
            RollupWriter.appendDelta(
                key: key, cell: cell, seriesId: seriesId, widthSeconds: Int32(Self.widths[Int(key.width)]), sketch: sketch, row: row,
                mayBeStored: row % 2 == 0, scratch: &scratch, to: &written
            )
            let expected = try Self.fieldByField(
                key: key, cell: cell, seriesId: seriesId, widthSeconds: Int32(Self.widths[Int(key.width)]), sketch: sketch, row: row, mayBeStored: row % 2 == 0
            )
            #expect(written.bytes == expected.bytes)
            row += 1
        }
        #expect(row > 100)
        // With an empty sketch, the sketch and its percentiles are NULL, as for none.
        let (key, cell) = try #require(processor.cells.first)
        var written = PostgresBinaryCopyEncoder()
        RollupWriter.appendDelta(
            key: key, cell: cell, seriesId: 3, widthSeconds: 60, sketch: QuantileSketch(), row: 9, mayBeStored: true, scratch: &scratch, to: &written
        )
        let expected = try Self.fieldByField(key: key, cell: cell, seriesId: 3, widthSeconds: 60, sketch: nil, row: 9, mayBeStored: true)
        #expect(written.bytes == expected.bytes)
    }

    /// A delta row as the writer's columns say it, one field at a time: what `RollupWriter.appendDelta` must equal.
    static func fieldByField(
        key: RollupProcessor.CellKey, cell: RollupCell, seriesId: Int32, widthSeconds: Int32, sketch: QuantileSketch?, row: Int32, mayBeStored: Bool
    ) throws -> PostgresBinaryCopyEncoder {
        let sketch = sketch.flatMap { $0.count > 0 ? $0 : nil }
        var expected = PostgresBinaryCopyEncoder()
        expected.beginRow(fieldCount: 21)
        expected.append(seriesId)
        expected.append(widthSeconds)
        expected.append(Timestamp(microsecondsSinceEpoch: key.bucket))
        expected.append(cell.count)
        for value in [cell.sum, cell.min, cell.max, cell.mean, cell.m2, cell.firstValue] { expected.append(value) }
        expected.append(Timestamp(microsecondsSinceEpoch: cell.firstTime))
        expected.append(cell.lastValue)
        expected.append(Timestamp(microsecondsSinceEpoch: cell.lastTime))
        expected.append(cell.late)
        if let sketch {
            for q in RollupWriter.percentiles { expected.append(try #require(sketch.quantile(q))) }
        } else {
            for _ in RollupWriter.percentiles { expected.appendNull() }
        }
        expected.append(row)
        expected.append(mayBeStored)
        if let unit = cell.lastUnit { expected.append(unit) } else { expected.appendNull() }
        if let sketch { expected.append(bytes: sketch.encoded()) } else { expected.appendNull() }
        return expected
    }
}
