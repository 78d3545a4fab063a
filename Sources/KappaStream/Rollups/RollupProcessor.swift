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
///
/// **Idle series.** A series silent for ``SeriesMemory/idleAfter`` leaves memory at a checkpoint (its deltas
/// are committed by then, so only its watermark goes, and that is stored). A series whose stored watermark is
/// not in memory (it returned, or this process has not seen it yet) is *unresolved* until the next checkpoint:
/// its readings' lateness is decided against the newest time seen since. The writer reads the stored
/// watermarks (``unresolvedSeries``, ``resolve(storedWatermarks:)``) before it writes; a cell's readings not
/// late by the newest time seen are `count − late` (cells are deltas since the last checkpoint, all gathered
/// while the series was unresolved), and they are late too when the cell's bucket had ended by the stored
/// watermark: every reading of a cell shares its bucket's end, so this is exact, and the output is the same as
/// if the series had stayed.
public final class RollupProcessor {
    /// A cell of the pending output: a series, the index of its width in ``widths``, the bucket's start (µs).
    public struct CellKey: Hashable, Sendable {
        public var series: UInt32
        public var width: Int32
        public var bucket: Int64

        /// Two words rather than three fields: every reading hashes a key per width.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(UInt64(series) << 32 | UInt64(UInt32(bitPattern: width)))
            hasher.combine(bucket)
        }
    }

    private let widthsMicroseconds: [Int64]
    private var intake: ReadingIntake
    /// The cells changed since the last checkpoint (deltas to merge into the stored rows).
    public private(set) var cells: [CellKey: RollupCell] = [:]
    /// The sketch of every pending cell, at its `sketchSlot`: fed from the readings for the widths no smaller one
    /// divides, left empty (merged into at the checkpoint, ``pendingSketches()``) for the others.
    private var sketches: [QuantileSketch] = []
    /// Per width index with a source (``sketchSources``): (source cell's slot, this width's cell's slot) for each
    /// pending cell of the source width, made when the source cell is. The checkpoint merges along these links
    /// instead of looking every pending cell up again per derived width.
    private var upwardLinks: [[(source: Int32, target: Int32)]]
    /// The pending tables' sizes at the last checkpoint: the next batch reserves them at its first reading, so a
    /// backlog's batches fill tables of the right size instead of rehashing them through every doubling.
    private var previousBatch = (cells: 0, links: [Int]())
    /// Scratch for ``add``: the slot of the reading's cell of each width, and which of them it created.
    private var readingSlots: [Int32]
    /// Per series number: the newest time seen (µs; since it was tracked while unresolved); `Int64.min` before any.
    private var watermarks: [Int64] = []
    /// Per series number: the newest time (µs) in the committed output; no stored bucket starts after it.
    private var committedWatermarks: [Int64] = []
    /// Per series number: whether the processor keeps its state, and whether its stored watermark is known.
    private var tracking: [Tracking] = []
    /// The series tracked whose stored watermark is not known yet, in the order they came.
    public private(set) var unresolvedSeries: [UInt32] = []
    /// The series whose watermark moved since the last checkpoint.
    public private(set) var dirtySeries: Set<UInt32> = []
    /// Per series number: its id in the series dictionary (`series.id`) once the writer learned it, else 0. Reset
    /// whenever the series starts being tracked (new, back from idle, or its number reused for another name).
    private var dictionaryIds: [Int32] = []
    /// The series whose dictionary ids were learned in the checkpoint being written: an id the checkpoint's own
    /// transaction assigned is not real until it commits, so these are forgotten if another attempt starts first.
    private var uncommittedDictionaryIds: [UInt32] = []
    /// Watermarks put back by ``restore(watermarks:)``, taken (and forgotten) the first time a series is seen.
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
    ///   - memory: the gateway's series registry, and when idle series leave memory.
    public init(
        widths: [Int64], partitionCount: Int, duplicateWindowRecords: Int, tagKeys: [String] = [],
        memory: SeriesMemory = SeriesMemory()
    ) {
        self.widths = widths
        self.tagKeys = tagKeys
        widthsMicroseconds = widths.map { $0 * 1_000_000 }
        let sources = Self.sketchSources(widths)
        sketchSources = sources
        derivedWidths = widths.indices.filter { sources[$0] != nil }.sorted { widths[$0] < widths[$1] }
        upwardLinks = Array(repeating: [], count: widths.count)
        readingSlots = Array(repeating: -1, count: widths.count)
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords, memory: memory)
    }

    deinit {
        intake.releaseAll()
    }

    private enum Tracking: UInt8 {
        case untracked, unresolved, resolved
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
        tracking[Int(key.series)] == .unresolved || key.bucket <= committedWatermarks[Int(key.series)]
    }

    /// Puts in the stored watermarks (µs) of ``unresolvedSeries`` (a series absent has none stored), before the
    /// checkpoint writes: readings not late by what was seen since become late where the stored watermark says so.
    public func resolve(storedWatermarks stored: [UInt32: Int64]) {
        guard !unresolvedSeries.isEmpty else { return }
        for series in unresolvedSeries {
            let index = Int(series)
            let watermark = stored[series] ?? .min
            committedWatermarks[index] = watermark
            if watermark > watermarks[index] { watermarks[index] = watermark }
        }
        // (Keys first, then the updates: changing `cells` while iterating it would copy it.)
        let lateCells = cells.compactMap { key, cell in
            tracking[Int(key.series)] == .unresolved && cell.late < cell.count
                && key.bucket + widthsMicroseconds[Int(key.width)] <= committedWatermarks[Int(key.series)] ? key : nil
        }
        for key in lateCells {
            lateReadings += cells[key]!.count - cells[key]!.late
            cells[key]!.late = cells[key]!.count
        }
        for series in unresolvedSeries { tracking[Int(series)] = .resolved }
        unresolvedSeries.removeAll(keepingCapacity: true)
    }

    /// The sketch of each pending cell's readings (since the last checkpoint), at its ``RollupCell/sketchSlot``:
    /// the cell's own for the widths fed from readings, merged from the source width's cells for the others
    /// (narrowest first, so a source is complete before it is merged upward). Merged in place, every derived
    /// sketch emptied first, so a writer retrying a checkpoint gets the same sketches again. One merge per pending
    /// cell of a source width, no lookups, and no sketch copied (a copy retains its bins).
    public func pendingSketches() -> [QuantileSketch] {
        let links = upwardLinks
        let derived = derivedWidths
        sketches.withUnsafeMutableBufferPointer { sketches in
            for target in derived {
                for link in links[target] { sketches[Int(link.target)] = QuantileSketch() }
            }
            for target in derived {
                for link in links[target] { sketches[Int(link.target)].merge(sketches[Int(link.source)]) }
            }
        }
        return sketches
    }

    /// The series' id in the series dictionary, or nil while the writer has not learned it.
    public func dictionaryId(ofSeries series: UInt32) -> Int32? {
        let id = dictionaryIds[Int(series)]
        return id == 0 ? nil : id
    }

    /// Keeps the series' dictionary id, learned by the checkpoint being written (trusted from its commit on).
    public func learn(dictionaryId id: Int32, ofSeries series: UInt32) {
        guard id != 0 else { return }
        dictionaryIds[Int(series)] = id
        uncommittedDictionaryIds.append(series)
    }

    /// Forgets the ids learned by a checkpoint attempt that did not commit (its transaction may have made them):
    /// the writer calls it as each attempt starts.
    public func forgetUncommittedDictionaryIds() {
        for series in uncommittedDictionaryIds { dictionaryIds[Int(series)] = 0 }
        uncommittedDictionaryIds.removeAll(keepingCapacity: true)
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
        if Int(series) >= tracking.count || tracking[Int(series)] == .untracked { track(series) }
        if cells.isEmpty, previousBatch.cells > 0 { reservePreviousBatch() }
        let watermark = watermarks[Int(series)]
        if time > watermark {
            watermarks[Int(series)] = time
            dirtySeries.insert(series)
            if !tagKeys.isEmpty { keepNewestTags(reading.tags, of: series) }
        }
        lateReadings += Self.add(
            value, time: time, unit: unit, series: series, watermark: watermark, widths: widthsMicroseconds,
            sketchSources: sketchSources, cells: &cells, sketches: &sketches, slots: &readingSlots, links: &upwardLinks
        )
    }

    /// The reading into its cell of every width; returns how many of those it is late for. (Static, on the
    /// tables passed in: one exclusive access to each per reading, not one per width.) A new cell gets a sketch
    /// slot, and a new cell of a source width a link to the reading's cell of each width it merges into.
    @inline(__always)
    private static func add(
        _ value: Double, time: Int64, unit: String?, series: UInt32, watermark: Int64, widths: [Int64], sketchSources: [Int?],
        cells: inout [CellKey: RollupCell], sketches: inout [QuantileSketch], slots: inout [Int32],
        links: inout [[(source: Int32, target: Int32)]]
    ) -> Int64 {
        var late: Int64 = 0
        var created: UInt64 = 0
        for (index, width) in widths.enumerated() {
            let bucket = floor(time, width)
            let isLate = bucket + width <= watermark
            if isLate { late += 1 }
            let key = CellKey(series: series, width: Int32(index), bucket: bucket)
            let isFed = sketchSources[index] == nil
            // One lookup, the cell updated in place; a new one comes in unfilled and takes the next sketch slot.
            let nextSlot = Int32(sketches.count)
            let slot = cells[key, default: .unfilled].add(value: value, time: time, isLate: isLate, unit: unit, slotIfNew: nextSlot)
            if slot == nextSlot {
                var sketch = QuantileSketch()
                if isFed { sketch.add(value) }
                sketches.append(sketch)
                created |= 1 << UInt64(index)
            } else if isFed {
                sketches[Int(slot)].add(value)
            }
            slots[index] = slot
        }
        if created != 0 {
            for (target, source) in sketchSources.enumerated() {
                guard let source, created & (1 << UInt64(source)) != 0 else { continue }
                links[target].append((slots[source], slots[target]))
            }
        }
        return late
    }

    private func reservePreviousBatch() {
        cells.reserveCapacity(previousBatch.cells)
        sketches.reserveCapacity(previousBatch.cells)
        for (target, count) in previousBatch.links.enumerated() where count > 0 { upwardLinks[target].reserveCapacity(count) }
        previousBatch = (0, [])
    }

    /// The values of ``tagKeys`` on the series' newest reading (those it carried), sorted by key.
    public func tags(ofSeries series: UInt32) -> [Tag] {
        Int(series) < newestTags.count ? newestTags[Int(series)] : []
    }

    private func keepNewestTags(_ tags: [Tag], of series: UInt32) {
        while newestTags.count <= Int(series) { newestTags.append([]) }
        newestTags[Int(series)] = tags.filter { tagKeys.contains($0.key) }
    }

    /// Starts keeping state for a series: its watermark as put back by ``restore(watermarks:)``, else unresolved.
    private func track(_ series: UInt32) {
        let index = Int(series)
        if index >= tracking.count {
            let grown = max(index + 1, tracking.count * 2)
            tracking.append(contentsOf: repeatElement(.untracked, count: grown - tracking.count))
            watermarks.append(contentsOf: repeatElement(.min, count: grown - watermarks.count))
            committedWatermarks.append(contentsOf: repeatElement(.min, count: grown - committedWatermarks.count))
            dictionaryIds.append(contentsOf: repeatElement(0, count: grown - dictionaryIds.count))
        }
        dictionaryIds[index] = 0
        if !storedWatermarks.isEmpty, let stored = storedWatermarks.removeValue(forKey: intake.series[series]) {
            watermarks[index] = stored
            committedWatermarks[index] = stored
            tracking[index] = .resolved
        } else {
            watermarks[index] = .min
            committedWatermarks[index] = .min
            tracking[index] = .unresolved
            unresolvedSeries.append(series)
        }
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
        // The pending tables are given back rather than kept at the largest batch's size: a backlog's batches
        // leave tens of megabytes (a million series: ~50 B per series) that a gateway under its usual load, or
        // idle, never fills again. The next batch reserves this one's sizes as it starts (``reservePreviousBatch()``):
        // a backlog's batches are alike, and growing a table through every doubling rehashed it each time.
        previousBatch = (cells.count, upwardLinks.map(\.count))
        cells = [:]
        sketches = []
        for target in upwardLinks.indices { upwardLinks[target] = [] }
        dirtySeries = []
        uncommittedDictionaryIds.removeAll(keepingCapacity: true)
        // Everything is committed: an idle series' state is its stored watermark, read back if it returns.
        let idle = intake.idleSeries(now: .now)
        for series in idle where Int(series) < tracking.count { tracking[Int(series)] = .untracked }
        for series in idle where Int(series) < newestTags.count { newestTags[Int(series)] = [] }
        intake.release(idle)
    }

    public var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, lateReadings: lateReadings, undecodable: intake.undecodable)
    }
}
