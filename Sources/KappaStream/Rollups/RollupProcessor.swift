public import KappaCore
public import KappaLog

/// Per device, metric and event-time bucket of each configured width: count, sum, min, max, mean, stddev,
/// first and last, the unit of the last reading, and a ``QuantileSketch`` of the readings (p50, p90, p99).
///
/// **Percentiles merge upward.** A width that a smaller configured width divides (1h by 1m, 1d by 1h) gets
/// its sketch by merging the sketches of its sub-buckets at the checkpoint, never from the readings again:
/// one sketch update per reading, whatever the number of widths. Merging adds bins, so the result is the
/// same sketch, bin for bin, as one fed every reading of the bucket; only a width no smaller one divides
/// (the smallest, or 90s beside 1m) is fed from the readings.
///
/// **Exactly once.** In memory it keeps only the cells changed since the last checkpoint (deltas). The
/// checkpoint merges them into the stored rows with Chan's formula inside the transaction that also moves the
/// offsets, so a crash loses the deltas and the offsets together and the records are read again. Counts, min,
/// max, first, last, late, unit and the sketches (so the percentiles) are then identical to an uninterrupted
/// run; sum, mean and stddev equal it up to floating-point rounding, because where checkpoints fall changes
/// how partial results are grouped. A stored bucket's sketch is merged with the delta's by the writer: the
/// processor says which cells may have one stored (``mayBeStored(_:)``).
///
/// **Late readings.** A reading is late for a width when its bucket had already ended, in event time, before
/// it arrived: before it, the series had a reading at or after the bucket's end. It still merges into its
/// bucket and is counted in `late`. The series' newest time (its watermark) is stored with each checkpoint,
/// so the rule gives the same answer after a restart.
public final class RollupProcessor {
    /// A cell of the pending output: a series, the index of its width in ``widths``, the bucket's start (µs).
    public struct CellKey: Hashable, Sendable {
        public var series: UInt32
        public var width: Int32
        public var bucket: Int64
    }

    private let widthsMicroseconds: [Int64]
    private var intake: ReadingIntake
    /// The cells changed since the last checkpoint (deltas to merge into the stored rows).
    public private(set) var cells: [CellKey: RollupCell] = [:]
    /// The sketches of the pending cells of widths fed from readings, at each cell's `sketchSlot`.
    private var readingSketches: [QuantileSketch] = []
    /// Per series number: the newest time seen (µs); `Int64.min` before any.
    private var watermarks: [Int64] = []
    /// Per series number: the newest time (µs) in the committed output; no stored bucket starts after it.
    private var committedWatermarks: [Int64] = []
    /// The series whose watermark moved since the last checkpoint.
    public private(set) var dirtySeries: Set<UInt32> = []
    /// Watermarks loaded from the store, consulted the first time a series is seen.
    private var storedWatermarks: [SeriesName: Int64] = [:]
    /// Bucket widths in seconds.
    public let widths: [Int64]
    /// Per width index: the index of the width whose sketches merge into it, or nil when it is fed from readings.
    public let sketchSources: [Int?]
    /// The widths with a source, narrowest first, so a source is complete before it is merged upward.
    private let derivedWidths: [Int]
    private(set) var lateReadings: Int64 = 0
    /// Tag keys the writer shows as columns of the series dictionary (`processors.rollup_tag_columns`).
    public let tagKeys: [String]
    /// Per series number, with ``tagKeys``: the values of those keys on its newest reading.
    private var newestTags: [[Tag]] = []

    /// - Parameters:
    ///   - widths: bucket widths in seconds, each once.
    ///   - tagKeys: tags whose newest values ``tags(ofSeries:)`` keeps per series.
    public init(widths: [Int64], partitionCount: Int, duplicateWindowRecords: Int, tagKeys: [String] = []) {
        self.widths = widths
        self.tagKeys = tagKeys
        widthsMicroseconds = widths.map { $0 * 1_000_000 }
        let sources = Self.sketchSources(widths)
        sketchSources = sources
        derivedWidths = widths.indices.filter { sources[$0] != nil }.sorted { widths[$0] < widths[$1] }
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords)
    }

    /// For each width, the widest smaller width dividing it (its buckets tile the wider ones), if any.
    static func sketchSources(_ widths: [Int64]) -> [Int?] {
        widths.map { width in
            widths.indices.filter { widths[$0] < width && width % widths[$0] == 0 }.max { widths[$0] < widths[$1] }
        }
    }

    /// The cells changed since the last checkpoint.
    public var pendingCellCount: Int { cells.count }

    /// The names behind series numbers.
    public var seriesNames: SeriesRegistry { intake.series }

    /// The newest time (µs) of a series numbered by ``seriesNames``.
    public func watermark(ofSeries series: UInt32) -> Int64 { watermarks[Int(series)] }

    /// Whether the stored output may already hold a row for `key` (its bucket does not start after the series'
    /// committed watermark), so the writer must merge the stored sketch with the delta's.
    public func mayBeStored(_ key: CellKey) -> Bool {
        key.bucket <= committedWatermarks[Int(key.series)]
    }

    /// The sketch of each pending cell's readings (since the last checkpoint): the cell's own for the widths fed
    /// from readings, merged from the source width's cells for the others. Computed, not kept: the writer may
    /// call it again when a checkpoint is retried.
    public func pendingSketches() -> [CellKey: QuantileSketch] {
        var sketches: [CellKey: QuantileSketch] = [:]
        sketches.reserveCapacity(cells.count)
        for (key, cell) in cells where cell.sketchSlot >= 0 {
            sketches[key] = readingSketches[Int(cell.sketchSlot)]
        }
        for target in derivedWidths {
            let source = Int32(sketchSources[target]!)
            let width = widthsMicroseconds[target]
            for key in cells.keys where key.width == source {
                guard let sketch = sketches[key] else { continue }
                let wider = CellKey(series: key.series, width: Int32(target), bucket: Self.floor(key.bucket, width))
                sketches[wider, default: QuantileSketch()].merge(sketch)
            }
        }
        return sketches
    }

    /// Puts back the watermarks stored with the last checkpoint (µs), before consuming resumes.
    public func restore(watermarks stored: [SeriesName: Int64]) {
        storedWatermarks = stored
    }

    /// Applies one record of `partition` (log order): the state update without any database work.
    public func apply(_ record: LogRecord, partition: Int) {
        guard let (series, reading) = intake.accept(record, partition: partition) else { return }
        let time = reading.time.microsecondsSinceEpoch
        let value = reading.value
        let unit = reading.unit
        let watermark = watermark(series)
        if time > watermark {
            watermarks[Int(series)] = time
            dirtySeries.insert(series)
            if !tagKeys.isEmpty { keepNewestTags(reading.tags, of: series) }
        }
        for (index, width) in widthsMicroseconds.enumerated() {
            let bucket = Self.floor(time, width)
            let isLate = bucket + width <= watermark
            if isLate { lateReadings += 1 }
            let key = CellKey(series: series, width: Int32(index), bucket: bucket)
            if let slot = cells[key]?.add(value: value, time: time, isLate: isLate, unit: unit) {
                if slot >= 0 { readingSketches[Int(slot)].add(value) }
            } else {
                var cell = RollupCell(value: value, time: time, isLate: isLate, unit: unit)
                if sketchSources[index] == nil {
                    cell.sketchSlot = Int32(readingSketches.count)
                    var sketch = QuantileSketch()
                    sketch.add(value)
                    readingSketches.append(sketch)
                }
                cells[key] = cell
            }
        }
    }

    /// The values of ``tagKeys`` on the series' newest reading (those it carried), sorted by key.
    public func tags(ofSeries series: UInt32) -> [Tag] {
        Int(series) < newestTags.count ? newestTags[Int(series)] : []
    }

    private func keepNewestTags(_ tags: [Tag], of series: UInt32) {
        while newestTags.count <= Int(series) { newestTags.append([]) }
        newestTags[Int(series)] = tags.filter { tagKeys.contains($0.key) }
    }

    private func watermark(_ series: UInt32) -> Int64 {
        // The intake also numbers series it met only while rebuilding its duplicate window: fill up to this one.
        while watermarks.count <= Int(series) {
            let stored = storedWatermarks[intake.series[UInt32(watermarks.count)]] ?? .min
            watermarks.append(stored)
            committedWatermarks.append(stored)
        }
        return watermarks[Int(series)]
    }

    @inline(__always)
    public static func floor(_ value: Int64, _ divisor: Int64) -> Int64 {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return (remainder < 0 ? quotient - 1 : quotient) * divisor
    }
}

extension RollupProcessor: StreamProcessor {
    public func resume(stream: any LogStream, offsets: [Int64]) async throws {
        try await intake.rebuild(stream: stream, resumeOffsets: offsets)
    }

    public var hasPendingOutput: Bool { !cells.isEmpty || !dirtySeries.isEmpty }

    public func committed() {
        for series in dirtySeries { committedWatermarks[Int(series)] = watermarks[Int(series)] }
        cells.removeAll(keepingCapacity: true)
        readingSketches.removeAll(keepingCapacity: true)
        dirtySeries.removeAll(keepingCapacity: true)
    }

    public var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, lateReadings: lateReadings, undecodable: intake.undecodable)
    }
}
