import KappaCore
public import KappaLog

/// Per device, metric and event-time bucket of each configured width: count, sum, min, max, mean, stddev,
/// first and last.
///
/// **Exactly once.** In memory it keeps only the cells changed since the last checkpoint (deltas). The
/// checkpoint merges them into the stored rows with Chan's formula inside the transaction that also moves the
/// offsets, so a crash loses the deltas and the offsets together and the records are read again. Counts, min,
/// max, first, last and late are then identical to an uninterrupted run; sum, mean and stddev equal it up to
/// floating-point rounding, because where checkpoints fall changes how partial results are grouped.
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
    /// Per series number: the newest time seen (µs); `Int64.min` before any.
    private var watermarks: [Int64] = []
    /// The series whose watermark moved since the last checkpoint.
    public private(set) var dirtySeries: Set<UInt32> = []
    /// Watermarks loaded from the store, consulted the first time a series is seen.
    private var storedWatermarks: [SeriesName: Int64] = [:]
    /// Bucket widths in seconds.
    public let widths: [Int64]
    private(set) var lateReadings: Int64 = 0

    /// - Parameters:
    ///   - widths: bucket widths in seconds.
    public init(widths: [Int64], partitionCount: Int, duplicateWindowRecords: Int) {
        self.widths = widths
        widthsMicroseconds = widths.map { $0 * 1_000_000 }
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords)
    }

    /// The cells changed since the last checkpoint.
    public var pendingCellCount: Int { cells.count }

    /// The names behind series numbers.
    public var seriesNames: SeriesRegistry { intake.series }

    /// The newest time (µs) of a series numbered by ``seriesNames``.
    public func watermark(ofSeries series: UInt32) -> Int64 { watermarks[Int(series)] }

    /// Puts back the watermarks stored with the last checkpoint (µs), before consuming resumes.
    public func restore(watermarks stored: [SeriesName: Int64]) {
        storedWatermarks = stored
    }

    /// Applies one record of `partition` (log order): the state update without any database work.
    public func apply(_ record: LogRecord, partition: Int) {
        guard let (series, reading) = intake.accept(record, partition: partition) else { return }
        let time = reading.time.microsecondsSinceEpoch
        let value = reading.value
        let watermark = watermark(series)
        if time > watermark {
            watermarks[Int(series)] = time
            dirtySeries.insert(series)
        }
        for (index, width) in widthsMicroseconds.enumerated() {
            let bucket = Self.floor(time, width)
            let isLate = bucket + width <= watermark
            if isLate { lateReadings += 1 }
            let key = CellKey(series: series, width: Int32(index), bucket: bucket)
            if cells[key]?.add(value: value, time: time, isLate: isLate) == nil {
                cells[key] = RollupCell(value: value, time: time, isLate: isLate)
            }
        }
    }

    private func watermark(_ series: UInt32) -> Int64 {
        // The intake also numbers series it met only while rebuilding its duplicate window: fill up to this one.
        while watermarks.count <= Int(series) {
            watermarks.append(storedWatermarks[intake.series[UInt32(watermarks.count)]] ?? .min)
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
        cells.removeAll(keepingCapacity: true)
        dirtySeries.removeAll(keepingCapacity: true)
    }

    public var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, lateReadings: lateReadings, undecodable: intake.undecodable)
    }
}
