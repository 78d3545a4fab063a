import KappaCore
import KappaLog
import KappaPostgres

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
    struct CellKey: Hashable {
        var series: UInt32
        var width: Int32
        var bucket: Int64
    }

    private let widthsMicroseconds: [Int64]
    private var intake: ReadingIntake
    private var cells: [CellKey: RollupCell] = [:]
    /// Per series number: the newest time seen (µs); `Int64.min` before any.
    private var watermarks: [Int64] = []
    private var dirtySeries: Set<UInt32> = []
    /// Watermarks loaded from the database, consulted the first time a series is seen.
    private var storedWatermarks: [SeriesName: Int64] = [:]
    private let tables: RollupTables
    private(set) var lateReadings: Int64 = 0

    /// - Parameters:
    ///   - widths: bucket widths in seconds.
    public init(
        widths: [Int64],
        partitionCount: Int,
        duplicateWindowRecords: Int,
        schema: PostgresIdentifier = PostgresIdentifier(KappaSchema.defaultSchema),
        version: String = "v1"
    ) {
        tables = RollupTables(schema: schema, version: version)
        widthsMicroseconds = widths.map { $0 * 1_000_000 }
        intake = ReadingIntake(partitionCount: partitionCount, windowRecords: duplicateWindowRecords)
    }

    /// The cells changed since the last checkpoint.
    public var pendingCellCount: Int { cells.count }

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
    static func floor(_ value: Int64, _ divisor: Int64) -> Int64 {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return (remainder < 0 ? quotient - 1 : quotient) * divisor
    }
}

extension RollupProcessor: StreamProcessor {
    func prepare(connection: PostgresConnection, stream: any LogStream, offsets: [Int64]) async throws {
        let rows = try await connection.query("SELECT device, metric, (extract(epoch FROM watermark) * 1000000)::bigint FROM \(tables.series)")
        for row in rows {
            storedWatermarks[SeriesName(device: try row[0].string, metric: try row[1].string)] = try row[2].int64
        }
        try await intake.rebuild(stream: stream, resumeOffsets: offsets)
    }

    var hasPendingOutput: Bool { !cells.isEmpty || !dirtySeries.isEmpty }

    func write(connection: PostgresConnection) async throws {
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            CREATE TEMP TABLE IF NOT EXISTS rollup_deltas (
                device text, metric text, width_seconds integer, bucket timestamptz, count bigint, sum float8,
                min float8, max float8, mean float8, m2 float8, first_value float8, first_time timestamptz,
                last_value float8, last_time timestamptz, late bigint
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS rollup_series_deltas (device text, metric text, watermark timestamptz) ON COMMIT DELETE ROWS
            """
        )
        let widthSeconds = widthsMicroseconds.map { Int32($0 / 1_000_000) }
        let names = intake.series
        _ = try await connection.copyFrom(table: "rollup_deltas", schema: "pg_temp", columns: RollupTables.deltaColumns) { rows in
            for (key, cell) in cells {
                let name = names[key.series]
                rows.beginRow(fieldCount: 15)
                rows.append(name.device)
                rows.append(name.metric)
                rows.append(widthSeconds[Int(key.width)])
                rows.append(Timestamp(microsecondsSinceEpoch: key.bucket))
                rows.append(cell.count)
                rows.append(cell.sum)
                rows.append(cell.min)
                rows.append(cell.max)
                rows.append(cell.mean)
                rows.append(cell.m2)
                rows.append(cell.firstValue)
                rows.append(Timestamp(microsecondsSinceEpoch: cell.firstTime))
                rows.append(cell.lastValue)
                rows.append(Timestamp(microsecondsSinceEpoch: cell.lastTime))
                rows.append(cell.late)
                try await rows.flushIfNeeded()
            }
        }
        try await connection.execute(tables.mergeCells)
        guard !dirtySeries.isEmpty else { return }
        _ = try await connection.copyFrom(table: "rollup_series_deltas", schema: "pg_temp", columns: ["device", "metric", "watermark"]) { rows in
            for series in dirtySeries {
                let name = names[series]
                rows.beginRow(fieldCount: 3)
                rows.append(name.device)
                rows.append(name.metric)
                rows.append(Timestamp(microsecondsSinceEpoch: watermarks[Int(series)]))
                try await rows.flushIfNeeded()
            }
        }
        try await connection.execute(tables.mergeSeries)
    }

    func committed() {
        cells.removeAll(keepingCapacity: true)
        dirtySeries.removeAll(keepingCapacity: true)
    }

    var counters: ProcessorCounters {
        ProcessorCounters(duplicates: intake.duplicates, lateReadings: lateReadings, undecodable: intake.undecodable)
    }
}

/// The rollup tables of one output version and the statements that merge deltas into them.
struct RollupTables {
    let cells: String
    let series: String

    static let deltaColumns = [
        "device", "metric", "width_seconds", "bucket", "count", "sum", "min", "max", "mean", "m2",
        "first_value", "first_time", "last_value", "last_time", "late",
    ]

    init(schema: PostgresIdentifier, version: String) {
        cells = PostgresIdentifier("rollups_\(version)").qualified(in: schema)
        series = PostgresIdentifier("rollup_series_\(version)").qualified(in: schema)
    }

    /// Chan's merge of a delta `e` into the stored row `t`, in SQL; first and last keep log order on ties.
    var mergeCells: String {
        let columns = Self.deltaColumns.joined(separator: ", ")
        return """
            INSERT INTO \(cells) AS t (\(columns))
            SELECT \(columns) FROM pg_temp.rollup_deltas
            ON CONFLICT (device, metric, width_seconds, bucket) DO UPDATE SET
                count = t.count + excluded.count,
                sum = t.sum + excluded.sum,
                min = least(t.min, excluded.min),
                max = greatest(t.max, excluded.max),
                mean = t.mean + (excluded.mean - t.mean) * excluded.count::float8 / (t.count + excluded.count)::float8,
                m2 = t.m2 + excluded.m2 + (excluded.mean - t.mean) * (excluded.mean - t.mean)
                     * t.count::float8 * excluded.count::float8 / (t.count + excluded.count)::float8,
                first_value = CASE WHEN excluded.first_time < t.first_time THEN excluded.first_value ELSE t.first_value END,
                first_time = least(t.first_time, excluded.first_time),
                last_value = CASE WHEN excluded.last_time >= t.last_time THEN excluded.last_value ELSE t.last_value END,
                last_time = greatest(t.last_time, excluded.last_time),
                late = t.late + excluded.late,
                updated_at = now()
            """
    }

    var mergeSeries: String {
        """
        INSERT INTO \(series) AS t (device, metric, watermark)
        SELECT device, metric, watermark FROM pg_temp.rollup_series_deltas
        ON CONFLICT (device, metric) DO UPDATE SET watermark = greatest(t.watermark, excluded.watermark)
        """
    }
}
