import KappaCore
import KappaLog

/// The front of every readings processor: decodes a record, numbers its series in the gateway's shared
/// ``SeriesRegistry``, and drops redelivered duplicates (see ``DuplicateWindow``), so rollups, the registry and
/// the archive agree on what was read.
///
/// **Idle series.** ``idleSeries(now:)`` names the series not seen for ``SeriesMemory/idleAfter`` whose
/// readings have all left the duplicate windows; the processor drops its state for them and ``release(_:)``s
/// them. A series that returns is then new to the intake: no reading of it is in a window, so skipping the
/// window search for its first reading (as for any new series) finds what an uninterrupted run finds.
struct ReadingIntake {
    let series: SeriesRegistry
    private let idleAfter: Duration?
    private var windows: [DuplicateWindow]
    /// Per series number: whether this intake holds it.
    private var held = SeriesFlags()
    /// Per series number held: the newest event time entered (an upper bound for the window search).
    private var newestTimes: [Int64] = []
    /// Per series number held: whether it was seen since the latest sweep began (all cleared when one ends).
    private var seenInSweep = SeriesFlags()
    private var sweepStarted: ContinuousClock.Instant?
    private(set) var duplicates: Int64 = 0
    private(set) var undecodable: Int64 = 0

    init(partitionCount: Int, windowRecords: Int, memory: SeriesMemory = SeriesMemory()) {
        windows = Array(repeating: DuplicateWindow(capacity: windowRecords), count: partitionCount)
        series = memory.registry
        idleAfter = memory.idleAfter
    }

    /// Refills each partition's window from the records just before where consuming resumes.
    mutating func rebuild(stream: any LogStream, resumeOffsets: [Int64]) async throws {
        for (partition, resume) in resumeOffsets.enumerated() {
            let capacity = Int64(windows[partition].capacity)
            var offset = max(stream.offsets(partition: partition).start, resume - capacity)
            while offset < resume {
                let result = try await stream.read(
                    partition: partition, from: offset,
                    limits: LogReadLimits(maxRecords: Int(min(resume - offset, 10_000)), maxBytes: 4 << 20)
                )
                guard !result.records.isEmpty else { break }
                for record in result.records where record.offset < resume {
                    _ = enter(record, partition: partition)
                }
                offset = result.nextOffset
            }
        }
        duplicates = 0
        undecodable = 0
    }

    /// The record's reading and series number, or nil when it is a duplicate or does not decode.
    mutating func accept(_ record: LogRecord, partition: Int) -> (series: UInt32, reading: Reading)? {
        enter(record, partition: partition)
    }

    private mutating func enter(_ record: LogRecord, partition: Int) -> (series: UInt32, reading: Reading)? {
        let decoded = record.value.withUnsafeBytes { bytes in
            Result { () throws(RecordDecodingError) -> Reading in try ReadingRecord.decode(bytes) }
        }
        guard case .success(let reading) = decoded else {
            undecodable += 1
            windows[partition].insertEmpty()
            return nil
        }
        let number = number(of: reading)
        let index = Int(number)
        let time = reading.time.nanosecondsSinceEpoch
        let bits = reading.value.bitPattern
        let newest: Int64?
        if index < held.count, held[index] {
            newest = newestTimes[index]
        } else {
            take(index, newestTime: time)
            newest = nil
        }
        seenInSweep[index] = true
        let isDuplicate = windows[partition].contains(series: number, time: time, valueBits: bits, newestTime: newest)
        windows[partition].insert(series: number, time: time, valueBits: bits)
        if let newest, time > newest { newestTimes[index] = time }
        if isDuplicate {
            duplicates += 1
            return nil
        }
        return (number, reading)
    }

    /// (Not mutating: the held flags are read in place, never copied.)
    private func number(of reading: Reading) -> UInt32 {
        series.hold(device: reading.device, metric: reading.metric) { Int($0) < held.count && held[Int($0)] }
    }

    private mutating func take(_ index: Int, newestTime: Int64) {
        if index >= newestTimes.count {
            let grown = max(index + 1, newestTimes.count * 2)
            held.grow(to: grown)
            newestTimes.append(contentsOf: repeatElement(0, count: grown - newestTimes.count))
            seenInSweep.grow(to: grown)
        }
        held[index] = true
        newestTimes[index] = newestTime
    }

    /// When a sweep is due (every ``SeriesMemory/idleAfter``): the series held but not seen since the previous
    /// sweep, none of whose readings is still in a duplicate window. Empty when no sweep is due.
    mutating func idleSeries(now: ContinuousClock.Instant) -> [UInt32] {
        guard let idleAfter else { return [] }
        guard let started = sweepStarted else {
            sweepStarted = now
            return []
        }
        guard now - started >= idleAfter else { return [] }
        sweepStarted = now
        var inWindows = Set<UInt32>()
        for window in windows { window.forEachSeries { inWindows.insert($0) } }
        var idle: [UInt32] = []
        for index in held.setIndices where !seenInSweep[index] && !inWindows.contains(UInt32(index)) {
            idle.append(UInt32(index))
        }
        seenInSweep.clearAll()
        return idle
    }

    /// Lets series go (the processor dropped its state for them).
    mutating func release(_ numbers: [UInt32]) {
        guard !numbers.isEmpty else { return }
        for number in numbers { held[Int(number)] = false }
        series.release(numbers)
    }

    /// Lets every held series go: the processor is going away.
    mutating func releaseAll() {
        release(held.setIndices.map { UInt32($0) })
    }
}
