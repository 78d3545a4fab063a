import KappaLog

/// Reading records out of the log for people (`kappa log dump`, `kappa log tail`).
public enum LogInspection {
    /// Hands `body` the records of one partition from `offset`, at most `count` of them (nil: to the end),
    /// reading in batches so a long partition is never held in memory at once.
    public static func forEachRecord(
        of stream: any LogStream, partition: Int, from offset: Int64, count: Int?, _ body: (LogRecord) -> Void
    ) throws {
        var offset = offset
        var remaining = count ?? .max
        while remaining > 0 {
            let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: min(remaining, 10_000)))
            if result.records.isEmpty { return }
            result.records.forEach(body)
            remaining -= result.records.count
            offset = result.nextOffset
        }
    }

    /// Hands `body` the last `last` records of each partition, then, unless `follow` is false, every record
    /// appended after them, until the task is cancelled. Another process may be the writer: the files are
    /// looked at again every 200 ms when nothing new was read (readers in the writing process wait on appends).
    public static func tail(
        of stream: DiskStream, in log: DiskLog, last: Int64, follow: Bool, _ body: (Int, LogRecord) -> Void
    ) async throws {
        try await tail(of: stream, last: last, follow: follow, refresh: { try log.refreshFromDisk() }, body)
    }

    /// As above for either log: `refresh` picks up what another process appended (the embedded log's files;
    /// a JetStream log's reads at the end ask the cluster themselves).
    public static func tail(
        of stream: any LogStream, last: Int64, follow: Bool, refresh: () throws -> Void, _ body: (Int, LogRecord) -> Void
    ) async throws {
        var offsets = (0..<stream.partitionCount).map { partition in
            let range = stream.offsets(partition: partition)
            return max(range.start, range.highWatermark - last)
        }
        while !Task.isCancelled {
            var read = false
            for partition in 0..<stream.partitionCount {
                let result = try await stream.read(partition: partition, from: offsets[partition], limits: LogReadLimits(maxRecords: 1000))
                for record in result.records { body(partition, record) }
                offsets[partition] = result.nextOffset
                read = read || !result.records.isEmpty
            }
            if read { continue }
            if !follow { return }
            try await Task.sleep(for: .milliseconds(200))
            try refresh()
        }
    }
}
