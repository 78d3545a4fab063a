/// The aggregate of one series in one bucket: everything the rollup views show, kept in a form that merges
/// exactly: count, mean and M2 (sum of squared deviations) with Welford's update per reading and Chan's
/// formula to merge two cells (the checkpoint's SQL applies the same formula to the stored row); the unit of
/// the last reading, which follows the last value.
///
/// Every cell also has a ``QuantileSketch`` (fed from the readings, or merged from smaller widths' at the
/// checkpoint: see ``RollupProcessor``), kept by the processor beside the cells (``sketchSlot``), not in them:
/// the cells stay small, and so does the table every reading looks up.
///
/// Times are microseconds (what PostgreSQL keeps), so a comparison made here and one made by the database on
/// the stored value always agree.
public struct RollupCell {
    public internal(set) var count: Int64
    public internal(set) var sum: Double
    public internal(set) var min: Double
    public internal(set) var max: Double
    public internal(set) var mean: Double
    public internal(set) var m2: Double
    public internal(set) var firstValue: Double
    public internal(set) var firstTime: Int64
    public internal(set) var lastValue: Double
    public internal(set) var lastTime: Int64
    public internal(set) var late: Int64
    /// The unit of the reading that gave ``lastValue`` (nil when it had none).
    public internal(set) var lastUnit: String?
    /// Where the processor keeps this cell's sketch (the index into ``RollupProcessor/pendingSketches()``).
    public internal(set) var sketchSlot: Int32 = -1

    init(value: Double, time: Int64, isLate: Bool, unit: String? = nil) {
        count = 1
        sum = value
        min = value
        max = value
        mean = value
        m2 = 0
        firstValue = value
        firstTime = time
        lastValue = value
        lastTime = time
        late = isLate ? 1 : 0
        lastUnit = unit
    }

    /// Adds one reading. Ties in time keep the earlier reading as first and the later one as last (log order).
    /// - Returns: the cell's ``sketchSlot``, for the processor to add the value to its sketch.
    @inline(__always) @discardableResult
    mutating func add(value: Double, time: Int64, isLate: Bool, unit: String? = nil) -> Int32 {
        count += 1
        sum += value
        if value < min { min = value }
        if value > max { max = value }
        let delta = value - mean
        mean += delta / Double(count)
        m2 += delta * (value - mean)
        if time < firstTime {
            firstTime = time
            firstValue = value
        }
        if time >= lastTime {
            lastTime = time
            lastValue = value
            lastUnit = unit
        }
        if isLate { late += 1 }
        return sketchSlot
    }

    /// A cell with no reading yet and no sketch slot: what a table lookup that will add the first reading starts from.
    static var unfilled: RollupCell {
        var cell = RollupCell(value: 0, time: 0, isLate: false)
        cell.count = 0
        return cell
    }

    /// Adds one reading to a cell, or starts an ``unfilled`` one with it at sketch slot `slotIfNew`.
    /// - Returns: the cell's ``sketchSlot`` (`slotIfNew` when it was unfilled).
    @inline(__always)
    mutating func add(value: Double, time: Int64, isLate: Bool, unit: String?, slotIfNew: Int32) -> Int32 {
        guard sketchSlot >= 0 else {
            self = RollupCell(value: value, time: time, isLate: isLate, unit: unit)
            sketchSlot = slotIfNew
            return slotIfNew
        }
        return add(value: value, time: time, isLate: isLate, unit: unit)
    }

    /// Chan et al.'s parallel merge; `other` holds readings that came after this cell's in the log.
    mutating func merge(_ other: RollupCell) {
        let total = count + other.count
        let delta = other.mean - mean
        mean += delta * Double(other.count) / Double(total)
        m2 += other.m2 + delta * delta * Double(count) * Double(other.count) / Double(total)
        count = total
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        if other.firstTime < firstTime {
            firstTime = other.firstTime
            firstValue = other.firstValue
        }
        if other.lastTime >= lastTime {
            lastTime = other.lastTime
            lastValue = other.lastValue
            lastUnit = other.lastUnit
        }
        late += other.late
    }

    /// Sample standard deviation (what SQL's `stddev` computes); nil below two readings.
    var standardDeviation: Double? {
        count > 1 ? (Swift.max(m2, 0) / Double(count - 1)).squareRoot() : nil
    }
}
