import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream

/// Writes ``RollupProcessor``'s deltas into `rollups_<version>` and `rollup_series_<version>`: binary COPY into
/// session-scoped staging tables, then one merge statement each (Chan's formula, in SQL).
///
/// **Layout.** Rows are keyed by (series_id, width_seconds, bucket); `series` (shared by every version) names
/// each (device, metric) once, and the views join it back (``RollupViews``). The table is partitioned by width,
/// then by bucket start (``RollupPartitionLayout``): each checkpoint creates the partitions its buckets need and
/// the next ones ahead, and at most hourly drops those past the width's retention (``RollupRetention``). A delta
/// whose partition has already expired is not written (it would be dropped at once).
///
/// Sketches merge here, not in SQL: a delta whose bucket may already be stored (``RollupProcessor/mayBeStored(_:)``:
/// the open buckets, late readings) has its stored sketch read back in the same transaction, merged, and the
/// merged sketch and its percentiles written over the row's. Buckets that start after the series' committed
/// watermark cannot be stored, so a replay or a busy fleet reads back little: one row per series and width
/// per checkpoint at most, plus late buckets. A row written before sketches existed has none: merging
/// into it leaves its percentiles NULL rather than percentiles of part of its readings.
public struct RollupWriter: OutputWriter {
    let cells: String
    let series: String
    let dictionary: String
    let schema: PostgresIdentifier
    let version: String
    let tagColumns: [String]
    let partitions: RollupPartitions

    /// The columns of a stored row, in the order the merge inserts them.
    static let storedColumns = [
        "series_id", "width_seconds", "bucket", "count", "sum", "min", "max", "mean", "m2",
        "first_value", "first_time", "last_value", "last_time", "late", "p50", "p90", "p99", "unit", "sketch",
    ]
    /// The columns of a staged delta row, in the order ``appendDelta`` writes them: every fixed-width one first.
    static let deltaColumns = Array(storedColumns.dropLast(2)) + ["cell", "maybe_stored", "unit", "sketch"]
    /// The percentiles stored beside each sketch, in the order of their columns.
    public static let percentiles: [Double] = [0.5, 0.9, 0.99]

    /// - Parameters:
    ///   - retention: how long each width's buckets are kept.
    ///   - tagColumns: tag keys shown as columns of `series` and the views (valid per ``RollupViews/isValidTagColumn(_:)``).
    public init(schema: PostgresIdentifier, version: String, retention: RollupRetention = RollupRetention(), tagColumns: [String] = []) {
        self.schema = schema
        self.version = version
        self.tagColumns = tagColumns
        let base = ProcessorOutputs.tableName("rollups", version: version)
        cells = PostgresIdentifier(base).qualified(in: schema)
        series = PostgresIdentifier(ProcessorOutputs.tableName("rollup_series", version: version)).qualified(in: schema)
        dictionary = PostgresIdentifier("series").qualified(in: schema)
        partitions = RollupPartitions(schema: schema, baseName: base, retention: retention)
    }

    public func load(into processor: RollupProcessor, stream: any LogStream, connection: PostgresConnection) async throws {
        try await RollupWidths.prepare(widths: processor.widths, version: version, schema: schema, cellsTable: cells, connection: connection)
        try await partitions.prepare(widths: processor.widths, connection: connection)
        try await RollupViews.prepare(widths: processor.widths, tagKeys: tagColumns, schema: schema, connection: connection)
        // One row per series, its watermark rewritten at every checkpoint the series has readings in.
        try await TableFillfactor.ensure(50, of: series, connection: connection)
        // The series' watermarks are read when a series is first seen (``resolveWatermarks``), not all here.
    }

    public func write(_ processor: RollupProcessor, connection: PostgresConnection) async throws {
        // Ids learned by an attempt that did not commit may be its own transaction's: look them up again.
        processor.forgetUncommittedDictionaryIds()
        // The staging tables live as long as the session; quiet the "already exists" notice after the first time.
        // No JIT: this transaction's statements probe indexes per staged row, and the planner's cost for tens of
        // thousands of probes passes jit_above_cost, so every checkpoint would compile its plans (~40 ms each) for nothing.
        try await connection.executeScript(
            """
            SET LOCAL client_min_messages = warning;
            SET LOCAL jit = off;
            CREATE TEMP TABLE IF NOT EXISTS rollup_deltas (
                series_id integer, width_seconds integer, bucket timestamptz, count bigint, sum float8,
                min float8, max float8, mean float8, m2 float8, first_value float8, first_time timestamptz,
                last_value float8, last_time timestamptz, late bigint, unit text, sketch bytea,
                p50 float8, p90 float8, p99 float8, cell integer, maybe_stored boolean
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS rollup_sketch_merges (
                cell integer, sketch bytea, p50 float8, p90 float8, p99 float8
            ) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS rollup_series_deltas (
                device text, metric text, watermark timestamptz, tags jsonb, series_id integer
            ) ON COMMIT DELETE ROWS
            """
        )
        try await resolveWatermarks(of: processor, connection: connection)
        let widthSeconds = processor.widths.map { Int32($0) }
        let spans = processor.widths.map { RollupPartitionLayout.spanSeconds(ofWidth: $0) * 1_000_000 }
        let now = Timestamp.now().microsecondsSinceEpoch
        let cutoffs = processor.widths.map { partitions.cutoff(ofWidth: $0, now: now) }
        // The current and the next partition of every width exist before buckets reach them.
        var needed = Set<RollupPartitions.Key>()
        for (index, width) in processor.widths.enumerated() {
            let current = RollupProcessor.floor(now, spans[index])
            needed.insert(RollupPartitions.Key(width: width, start: current))
            needed.insert(RollupPartitions.Key(width: width, start: current + spans[index]))
        }
        func isExpired(_ key: RollupProcessor.CellKey) -> Bool {
            let widthIndex = Int(key.width)
            guard let cutoff = cutoffs[widthIndex] else { return false }
            return RollupProcessor.floor(key.bucket, spans[widthIndex]) + spans[widthIndex] <= cutoff
        }
        // Rows are staged by dictionary id, so no statement joins or scans the dictionary by name: the series with
        // a delta to write and no id yet (new to this process, or back from idle) get theirs first, added to the
        // dictionary when it does not know them.
        var withoutId: [UInt32] = []
        var listed = Set<UInt32>()
        for key in processor.cells.keys where processor.dictionaryId(ofSeries: key.series) == nil && !isExpired(key) {
            if listed.insert(key.series).inserted { withoutId.append(key.series) }
        }
        try await learnDictionaryIds(of: withoutId, processor: processor, connection: connection)
        let sketches = processor.pendingSketches()
        // Row `cell` of the staging table has its sketch at slots[cell]: how stored sketches read back find their delta.
        var slots: [Int32] = []
        slots.reserveCapacity(processor.pendingCellCount)
        var anyMayBeStored = false
        var scratch: [UInt8] = []
        _ = try await connection.copyFrom(table: "rollup_deltas", schema: "pg_temp", columns: Self.deltaColumns) { rows in
            for (key, cell) in processor.cells {
                let widthIndex = Int(key.width)
                if isExpired(key) { continue }
                needed.insert(RollupPartitions.Key(width: processor.widths[widthIndex], start: RollupProcessor.floor(key.bucket, spans[widthIndex])))
                guard let seriesId = processor.dictionaryId(ofSeries: key.series) else {
                    throw RollupWriterError.seriesWithoutId(processor.seriesNames[key.series])
                }
                let mayBeStored = processor.mayBeStored(key)
                anyMayBeStored = anyMayBeStored || mayBeStored
                // Through the buffer, the sketch is borrowed in place (an array's subscript here hands out a copy).
                sketches.withUnsafeBufferPointer { sketches in
                    Self.appendDelta(
                        key: key, cell: cell, seriesId: seriesId, widthSeconds: widthSeconds[widthIndex],
                        sketch: sketches[Int(cell.sketchSlot)], row: Int32(slots.count), mayBeStored: mayBeStored, scratch: &scratch,
                        to: &rows.encoder
                    )
                }
                slots.append(cell.sketchSlot)
                try await rows.flushIfNeeded()
            }
        }
        try await partitions.ensure(needed, connection: connection)
        if !slots.isEmpty {
            if anyMayBeStored {
                try await mergeStoredSketches(slots: slots, sketches: sketches, connection: connection)
            }
            try await connection.execute(self.mergeCells)
        }
        try await partitions.applyRetention(now: now, connection: connection)
        guard !processor.dirtySeries.isEmpty else { return }
        let withTags = !tagColumns.isEmpty
        if withTags {
            // Tags live in the dictionary: a series whose deltas all expired is named there too (after the
            // deltas' new series, as before ids were staged, so ids are given in the same order).
            try await learnDictionaryIds(of: processor.dirtySeries.filter { processor.dictionaryId(ofSeries: $0) == nil },
                                         processor: processor, connection: connection)
        }
        let names = processor.seriesNames
        _ = try await connection.copyFrom(table: "rollup_series_deltas", schema: "pg_temp", columns: ["device", "metric", "watermark", "tags", "series_id"]) { rows in
            for series in processor.dirtySeries {
                let name = names[series]
                rows.beginRow(fieldCount: 5)
                rows.append(name.device)
                rows.append(name.metric)
                rows.append(Timestamp(microsecondsSinceEpoch: processor.watermark(ofSeries: series)))
                if withTags, let id = processor.dictionaryId(ofSeries: series) {
                    rows.append(jsonb: JSONText.object(processor.tags(ofSeries: series)))
                    rows.append(id)
                } else {
                    rows.appendNull()
                    rows.appendNull()
                }
                try await rows.flushIfNeeded()
            }
        }
        try await connection.execute(self.mergeSeries)
        if withTags {
            try await connection.execute(self.updateTags)
        }
    }

    /// One row of `rollup_deltas` (``deltaColumns``; `cell` is the row's number). Its nineteen fixed-width fields,
    /// the percentiles among them, go in as one block (``FixedFields``) and the sketch is encoded into `scratch`
    /// (kept between rows), so a row costs a few copies rather than an append per field and an array per sketch.
    /// The sketch is borrowed, never copied: a copy of one retains its bins, an atomic operation per row for nothing.
    public static func appendDelta(
        key: RollupProcessor.CellKey, cell: RollupCell, seriesId: Int32, widthSeconds: Int32, sketch: borrowing QuantileSketch,
        row: Int32, mayBeStored: Bool, scratch: inout [UInt8], to rows: inout PostgresBinaryCopyEncoder
    ) {
        // An empty sketch: NULL sketch and percentiles.
        let hasSketch = sketch.count > 0
        rows.beginRow(fieldCount: 21)
        withUnsafeTemporaryAllocation(byteCount: FixedFields.byteCount, alignment: 8) { buffer in
            var fields = FixedFields(buffer: buffer)
            fields.append(seriesId)
            fields.append(widthSeconds)
            fields.append(timestamp: key.bucket)
            fields.append(cell.count)
            fields.append(cell.sum)
            fields.append(cell.min)
            fields.append(cell.max)
            fields.append(cell.mean)
            fields.append(cell.m2)
            fields.append(cell.firstValue)
            fields.append(timestamp: cell.firstTime)
            fields.append(cell.lastValue)
            fields.append(timestamp: cell.lastTime)
            fields.append(cell.late)
            if hasSketch {
                sketch.forEachQuantile(of: percentiles) { value in
                    if let value { fields.append(value) } else { fields.appendNull() }
                }
            } else {
                for _ in percentiles { fields.appendNull() }
            }
            fields.append(row)
            fields.append(mayBeStored)
            rows.appendEncodedFields(UnsafeRawBufferPointer(rebasing: buffer[..<fields.offset]), count: 19)
        }
        if let unit = cell.lastUnit { rows.append(unit) } else { rows.appendNull() }
        if hasSketch {
            scratch.removeAll(keepingCapacity: true)
            sketch.encode(into: &scratch)
            rows.append(bytes: scratch)
        } else {
            rows.appendNull()
        }
    }

    /// Fixed-width COPY fields (length, then the big-endian value) written into a caller's buffer.
    struct FixedFields {
        /// Room for three int32, fifteen 8-byte fields and a boolean, each behind its int32 length.
        static let byteCount = 3 * (4 + 4) + 15 * (4 + 8) + (4 + 1)
        let buffer: UnsafeMutableRawBufferPointer
        private(set) var offset = 0

        init(buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

        mutating func append(_ value: Int32) {
            buffer.storeBytes(of: Int32(4).bigEndian, toByteOffset: offset, as: Int32.self)
            buffer.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: Int32.self)
            offset += 8
        }

        mutating func append(_ value: Int64) {
            buffer.storeBytes(of: Int32(8).bigEndian, toByteOffset: offset, as: Int32.self)
            buffer.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: Int64.self)
            offset += 12
        }

        mutating func append(_ value: Double) { append(Int64(bitPattern: value.bitPattern)) }

        mutating func append(_ value: Bool) {
            buffer.storeBytes(of: Int32(1).bigEndian, toByteOffset: offset, as: Int32.self)
            buffer.storeBytes(of: value ? 1 : 0, toByteOffset: offset + 4, as: UInt8.self)
            offset += 5
        }

        /// A NULL: the length -1 and no value.
        mutating func appendNull() {
            buffer.storeBytes(of: Int32(-1).bigEndian, toByteOffset: offset, as: Int32.self)
            offset += 4
        }

        /// PostgreSQL's timestamps count from 2000-01-01 UTC.
        static let postgresEpochMicroseconds: Int64 = 946_684_800 * 1_000_000

        /// A `timestamptz` from microseconds since the Unix epoch.
        mutating func append(timestamp microseconds: Int64) {
            append(microseconds &- Self.postgresEpochMicroseconds)
        }
    }

    /// The sketch's bytes and percentiles (NULL for none: a bucket whose stored part had no sketch).
    static func append(_ sketch: QuantileSketch?, scratch: inout [UInt8], to rows: inout PostgresBinaryCopyEncoder) {
        guard let sketch, sketch.count > 0 else {
            for _ in 0...percentiles.count { rows.appendNull() }
            return
        }
        scratch.removeAll(keepingCapacity: true)
        sketch.encode(into: &scratch)
        rows.append(bytes: scratch)
        sketch.forEachQuantile(of: percentiles) { value in
            if let value { rows.append(value) } else { rows.appendNull() }
        }
    }

    /// Reads back the stored sketches of the deltas that may have one, and stages each merged with its delta.
    /// Each is looked up by its keys (LATERAL … LIMIT 1 keeps the planner to index probes, pruned to the one
    /// partition per row): a hash join here read every stored row of every partition at every checkpoint,
    /// a cost growing with the series and the days kept, not with the checkpoint.
    private func mergeStoredSketches(slots: [Int32], sketches: [QuantileSketch],
                                     connection: PostgresConnection) async throws {
        let stored = try await connection.query(
            """
            SELECT d.cell, t.sketch FROM pg_temp.rollup_deltas d
            CROSS JOIN LATERAL (
                SELECT t.sketch FROM \(cells) t
                WHERE t.series_id = d.series_id AND t.width_seconds = d.width_seconds AND t.bucket = d.bucket LIMIT 1
            ) t
            WHERE d.maybe_stored
            """
        )
        guard !stored.isEmpty else { return }
        var scratch: [UInt8] = []
        _ = try await connection.copyFrom(table: "rollup_sketch_merges", schema: "pg_temp", columns: ["cell", "sketch", "p50", "p90", "p99"]) { rows in
            for row in stored {
                let cell = Int32(try row[0].int)
                rows.beginRow(fieldCount: 5)
                rows.append(cell)
                // No stored sketch (a row from before sketches) or an unreadable one: its percentiles are unknown.
                if !row[1].isNull, var sketch = QuantileSketch(encoded: try row[1].bytes) {
                    sketches.withUnsafeBufferPointer { sketches in sketch.merge(sketches[Int(slots[Int(cell)])]) }
                    Self.append(sketch, scratch: &scratch, to: &rows.encoder)
                } else {
                    Self.append(nil, scratch: &scratch, to: &rows.encoder)
                }
                try await rows.flushIfNeeded()
            }
        }
    }

    /// Learns the dictionary ids of `seriesNumbers` (series the processor has none for), adding to `series` those
    /// it does not know. Only these names cross to PostgreSQL, once per series while it stays in memory.
    /// NOT EXISTS first: an identity value is spent by every row an INSERT tries, conflicting or not. In name
    /// order, so gateways adding the same series at once wait for each other instead of deadlocking (and ids are
    /// given in the order they were before rows were staged by id). Each name is found by an index probe
    /// (LATERAL … LIMIT 1), never by scanning the dictionary.
    func learnDictionaryIds(of seriesNumbers: [UInt32], processor: RollupProcessor, connection: PostgresConnection) async throws {
        guard !seriesNumbers.isEmpty else { return }
        try await stageNames(of: seriesNumbers, processor: processor, connection: connection)
        try await connection.execute(
            """
            INSERT INTO \(dictionary) (device, metric)
            SELECT n.device, n.metric FROM pg_temp.rollup_series_names n
            WHERE NOT EXISTS (SELECT 1 FROM \(dictionary) s WHERE s.device = n.device AND s.metric = n.metric)
            ORDER BY 1, 2
            ON CONFLICT DO NOTHING
            """
        )
        let found = try await connection.query(
            """
            SELECT n.series, s.id FROM pg_temp.rollup_series_names n
            CROSS JOIN LATERAL (SELECT s.id FROM \(dictionary) s WHERE s.device = n.device AND s.metric = n.metric LIMIT 1) s
            """
        )
        for row in found {
            processor.learn(dictionaryId: Int32(try row[1].int), ofSeries: UInt32(try row[0].int64))
        }
    }

    /// The newest reading's tags of each series whose watermark moved, written only when they changed and are
    /// newer than the stored ones (a replay into another version reads old readings: it must not set old tags).
    var updateTags: String {
        """
        UPDATE \(dictionary) s SET tags = d.tags, tags_time = d.watermark
        FROM pg_temp.rollup_series_deltas d
        WHERE s.id = d.series_id AND d.tags IS NOT NULL
          AND s.tags IS DISTINCT FROM d.tags AND (s.tags_time IS NULL OR s.tags_time < d.watermark)
        """
    }

    /// Chan's merge of a delta `e` into the stored row `t`, in SQL; first and last keep log order on ties. The
    /// sketch and percentiles come merged from `rollup_sketch_merges` when the row was stored (else the delta's).
    var mergeCells: String {
        let columns = Self.storedColumns.joined(separator: ", ")
        let staged = Self.storedColumns.map { column in
            return ["sketch", "p50", "p90", "p99"].contains(column)
                ? "CASE WHEN m.cell IS NULL THEN d.\(column) ELSE m.\(column) END" : "d.\(column)"
        }.joined(separator: ", ")
        return """
            INSERT INTO \(cells) AS t (\(columns))
            SELECT \(staged) FROM pg_temp.rollup_deltas d
            LEFT JOIN pg_temp.rollup_sketch_merges m ON m.cell = d.cell
            ON CONFLICT (series_id, width_seconds, bucket) DO UPDATE SET
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
                unit = CASE WHEN excluded.last_time >= t.last_time THEN excluded.unit ELSE t.unit END,
                late = t.late + excluded.late,
                sketch = excluded.sketch,
                p50 = excluded.p50,
                p90 = excluded.p90,
                p99 = excluded.p99,
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

/// A checkpoint found a delta of a series whose dictionary id it did not learn (a bug, not a data problem).
enum RollupWriterError: Error, CustomStringConvertible {
    case seriesWithoutId(SeriesName)

    var description: String {
        switch self {
        case .seriesWithoutId(let name): "rollups: no series id learned for \(name.device)/\(name.metric)"
        }
    }
}
