import KappaCore
import KappaLog

/// The front of every readings processor: decodes a record, numbers its series, and drops redelivered
/// duplicates (see ``DuplicateWindow``), so rollups, the registry and the archive agree on what was read.
struct ReadingIntake {
    private(set) var series = SeriesRegistry()
    private var windows: [DuplicateWindow]
    /// Per series number: the newest event time entered (an upper bound for the window search).
    private var newestTimes: [Int64] = []
    private(set) var duplicates: Int64 = 0
    private(set) var undecodable: Int64 = 0

    init(partitionCount: Int, windowRecords: Int) {
        windows = Array(repeating: DuplicateWindow(capacity: windowRecords), count: partitionCount)
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
        let number = series.number(device: reading.device, metric: reading.metric)
        let time = reading.time.nanosecondsSinceEpoch
        let bits = reading.value.bitPattern
        let newest: Int64?
        if Int(number) < newestTimes.count {
            newest = newestTimes[Int(number)]
        } else {
            newestTimes.append(time)
            newest = nil
        }
        let isDuplicate = windows[partition].contains(series: number, time: time, valueBits: bits, newestTime: newest)
        windows[partition].insert(series: number, time: time, valueBits: bits)
        if let newest, time > newest { newestTimes[Int(number)] = time }
        if isDuplicate {
            duplicates += 1
            return nil
        }
        return (number, reading)
    }
}
