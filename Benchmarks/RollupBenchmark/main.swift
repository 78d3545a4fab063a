// Rollups replayed from the log into PostgreSQL beside PostgreSQL's own INSERT … SELECT … GROUP BY over the
// same readings loaded in a table, same run, same widths (1 min, 1 h, 1 day); and the processor's state
// updates alone (percentile sketches included) beside decoding the same records alone, and the checkpoint's
// merging of sketches upward beside those updates.
// Run: swift run -c release RollupBenchmark --database postgres://user@host/db [--readings 2000000] [--data-dir DIR]
import BenchmarkSupport
import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif



func line(_ label: String, _ value: Double, _ comparator: String, _ comparatorValue: Double, unit: String) {
    let ratio = value / comparatorValue
    print("\(label): \(Int(value)) \(unit)   \(comparator): \(Int(comparatorValue)) \(unit)   ratio \(String(Int(ratio * 100)).withDecimalPoint)")
}

extension String {
    /// "123" (hundredths) as "1.23".
    var withDecimalPoint: String {
        let padded = count < 3 ? String(repeating: "0", count: 3 - count) + self : self
        return "\(padded.dropLast(2)).\(padded.suffix(2))"
    }
}

let readingCount = Int(option("--readings") ?? "") ?? 2_000_000
guard let conninfo = option("--database") ?? getenv("KAPPA_DATABASE").map({ String(cString: $0) }) else {
    print("usage: RollupBenchmark --database URL [--readings N] [--data-dir DIR]")
    exit(2)
}
let logger = Logger(label: "kappa.rollup.benchmark", factory: { _ in SwiftLogNoOpLogHandler() })
let directory = option("--data-dir") ?? "./.build/rollup-benchmark"
_ = system("rm -rf '\(directory)'")

// 1000 devices × 5 metrics, one reading per series every 10 s, in time order: the shape of a live fleet.
var configuration = DiskLogConfiguration()
configuration.fsync = .never
configuration.diskFloorBytes = 0
let log = try DiskLog(directory: directory, configuration: configuration, logger: logger)
let stream = try log.createStream(named: KappaStreams.readings, partitionCount: KappaStreams.defaultReadingPartitions)
let start = (Timestamp.now().microsecondsSinceEpoch / 86_400_000_000 - 2) * 86_400_000_000
var batch: [LogAppendRecord] = []
try rollupFleetReadings(count: readingCount, start: start) { _, reading in
    batch.append(LogAppendRecord(key: reading.device, eventTime: reading.time, value: ReadingRecord.encode(reading)))
    if batch.count == 10_000 {
        _ = try stream.append(batch)
        batch.removeAll(keepingCapacity: true)
    }
}
_ = try stream.append(batch)
print("\(readingCount) readings in \(stream.partitionCount) partitions")

// The processor alone: state updates for three widths (records already read) beside decoding them only.
var records: [[LogRecord]] = []
for partition in 0..<stream.partitionCount {
    var partitionRecords: [LogRecord] = []
    var offset: Int64 = 0
    while true {
        let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 100_000, maxBytes: 64 << 20))
        if result.records.isEmpty { break }
        partitionRecords.append(contentsOf: result.records)
        offset = result.nextOffset
    }
    records.append(partitionRecords)
}
let clock = ContinuousClock()
var checksum = 0.0
let decodeTime = clock.measure {
    for partitionRecords in records {
        for record in partitionRecords {
            if let reading = try? record.value.withUnsafeBytes({ try ReadingRecord.decode($0) }) { checksum += reading.value }
        }
    }
}
let processor = RollupProcessor(widths: [60, 3600, 86_400], partitionCount: stream.partitionCount, duplicateWindowRecords: 4096)
let applyTime = clock.measure {
    for (partition, partitionRecords) in records.enumerated() {
        for record in partitionRecords { processor.apply(record, partition: partition) }
    }
}
line("processor alone (decode + dedupe + 3 widths), one core", Double(readingCount) / seconds(applyTime),
     "decode only", Double(readingCount) / seconds(decodeTime), unit: "readings/s")
print("(\(processor.pendingCellCount) cells, checksum \(checksum))")
// What a checkpoint adds for percentiles: the wider widths' sketches merged from the narrower ones' (one
// checkpoint of every reading here: the most cells a checkpoint can hold), beside the state updates above.
var mergedSketches = 0
let mergeTime = clock.measure { mergedSketches = processor.pendingSketches().count }
line("checkpoint's sketch merge upward, per reading", Double(readingCount) / seconds(mergeTime),
     "state updates", Double(readingCount) / seconds(applyTime), unit: "readings/s")
print("(\(mergedSketches) sketches)")
records.removeAll()

// Replay into PostgreSQL through the rollup processor, in a schema of its own.
let schema = "rollup_benchmark_\(getpid())"
let database = PostgresConfiguration(conninfo: conninfo)
let connection = try await PostgresConnection.connect(database, logger: logger)
try await SchemaMigrator(schema: PostgresIdentifier(schema)).migrate(connection)
var processorConfiguration = ProcessorConfiguration()
processorConfiguration.maxBatchRecords = 500_000
let replayStarted = clock.now
let services = try ProcessorSet.make(roles: [.rollups], log: log, database: database, schema: schema, configuration: processorConfiguration, logger: logger)
let group = ServiceGroup(services: services, logger: logger)
let total = Int64(readingCount)
let quoted = PostgresIdentifier(schema).quoted
let replayTime: Duration = try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    while try await connection.query("SELECT coalesce(sum(next_offset), 0)::bigint FROM \(quoted).processor_offsets").first?[0].int64 != total {
        try await Task.sleep(for: .milliseconds(5))
    }
    let elapsed = clock.now - replayStarted
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
    return elapsed
}

// PostgreSQL's own GROUP BY over the same readings, loaded (untimed) into a table.
try await connection.executeScript("CREATE TABLE \(quoted).raw (device text, metric text, time timestamptz, value float8)")
var rawReadings: [Reading] = []
rawReadings.reserveCapacity(readingCount)
for partition in 0..<stream.partitionCount {
    var offset: Int64 = 0
    while true {
        let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 50_000, maxBytes: 32 << 20))
        if result.records.isEmpty { break }
        for record in result.records {
            rawReadings.append(try record.value.withUnsafeBytes { try ReadingRecord.decode($0) })
        }
        offset = result.nextOffset
    }
}
try await loadRaw(rawReadings, into: connection, schema: schema)
try await connection.execute("VACUUM ANALYZE \(quoted).raw")
try await connection.execute("CREATE TABLE \(quoted).sql_rollups (LIKE \(quoted).rollups_v1 INCLUDING ALL)")
let groupByStarted = clock.now
try await connection.execute(
    """
    INSERT INTO \(quoted).sql_rollups (series_id, width_seconds, bucket, count, sum, min, max, mean, m2, first_value, first_time, last_value, last_time, late)
    SELECT s.id, w, date_bin(make_interval(secs => w), time, timestamptz 'epoch'), count(*), sum(value), min(value), max(value),
           avg(value), coalesce(var_samp(value) * (count(*) - 1), 0),
           (array_agg(value ORDER BY time))[1], min(time), (array_agg(value ORDER BY time DESC))[1], max(time), 0
    FROM \(quoted).raw r JOIN \(quoted).series s ON s.device = r.device AND s.metric = r.metric
    CROSS JOIN (VALUES (60), (3600), (86400)) AS widths(w)
    GROUP BY s.id, w, 3
    """
)
let groupByTime = clock.now - groupByStarted
let rows = try await connection.query("SELECT (SELECT count(*) FROM \(quoted).rollups_v1), (SELECT count(*) FROM \(quoted).sql_rollups)")
line("replay log → rollups in PostgreSQL", Double(readingCount) / seconds(replayTime),
     "PostgreSQL INSERT … SELECT … GROUP BY", Double(readingCount) / seconds(groupByTime), unit: "readings/s")
print("(rollup rows: processor \(try rows[0][0].string), SQL \(try rows[0][1].string); replay \(seconds(replayTime)) s, GROUP BY \(seconds(groupByTime)) s)")
try await connection.executeScript("SET client_min_messages = warning; DROP SCHEMA \(quoted) CASCADE")
await connection.close()
log.close()
_ = system("rm -rf '\(directory)'")

/// Outside the main actor: the COPY writer belongs to the task that runs the copy.
nonisolated func loadRaw(_ readings: [Reading], into connection: PostgresConnection, schema: String) async throws {
    _ = try await connection.copyFrom(table: "raw", schema: schema, columns: ["device", "metric", "time", "value"]) { writer in
        for reading in readings {
            writer.beginRow(fieldCount: 4)
            writer.append(reading.device)
            writer.append(reading.metric)
            writer.append(reading.time)
            writer.append(reading.value)
            try await writer.flushIfNeeded()
        }
    }
}
