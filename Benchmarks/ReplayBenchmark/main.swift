// A replay of the log's history into a new rollup version (widths 1 min, 1 h, 1 day) while live readings are
// appended at a steady rate and the live v1 rollup processor keeps up with them, in the same process.
// Prints the replay rate beside the live append rate, the time 10 M readings would take at that rate beside
// the 1-minute goal, and the live processor's lag (age of its oldest uncommitted reading) beside the 2 s goal.
// Run: swift run -c release ReplayBenchmark --database postgres://user@host/db [--readings 2000000] [--live-rate 20000] [--data-dir DIR]
import BenchmarkSupport
import Dispatch
import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif



func line(_ label: String, _ value: Double, _ comparator: String, _ comparatorValue: Double, unit: String) {
    let ratio = value / comparatorValue
    print("\(label): \(formatted(value)) \(unit)   \(comparator): \(formatted(comparatorValue)) \(unit)   ratio \(formatted(ratio))")
}

func formatted(_ value: Double) -> String {
    value >= 100 ? String(Int(value.rounded())) : String(Double(Int((value * 100).rounded())) / 100)
}

func reading(_ index: Int, time: Int64) -> LogAppendRecord {
    let series = index % 5000
    let reading = Reading(
        device: "device-\(series / 5)", metric: "metric-\(series % 5)",
        time: Timestamp(microsecondsSinceEpoch: time), value: Double((index &* 2_654_435_761) % 100_000) / 1000
    )
    return LogAppendRecord(key: reading.device, eventTime: reading.time, value: ReadingRecord.encode(reading))
}

let readingCount = Int(option("--readings") ?? "") ?? 2_000_000
let liveRate = Int(option("--live-rate") ?? "") ?? 20_000
guard let conninfo = option("--database") ?? getenv("KAPPA_DATABASE").map({ String(cString: $0) }) else {
    print("usage: ReplayBenchmark --database URL [--readings N] [--live-rate N] [--data-dir DIR]")
    exit(2)
}
let logger = Logger(label: "kappa.replay.benchmark", factory: { _ in SwiftLogNoOpLogHandler() })
let directory = option("--data-dir") ?? "./.build/replay-benchmark"
_ = system("rm -rf '\(directory)'")

// History: 1000 devices × 5 metrics, one reading per series every 10 s, ending two days ago.
var logConfiguration = DiskLogConfiguration()
logConfiguration.fsync = .never
logConfiguration.diskFloorBytes = 0
let log = try DiskLog(directory: directory, configuration: logConfiguration, logger: logger)
let stream = try log.createStream(named: KappaStreams.readings, partitionCount: KappaStreams.defaultReadingPartitions)
let historyStart = (Timestamp.now().microsecondsSinceEpoch / 86_400_000_000 - 2) * 86_400_000_000 - Int64(readingCount / 5000) * 10_000_000
var batch: [LogAppendRecord] = []
for index in 0..<readingCount {
    batch.append(reading(index, time: historyStart + Int64(index / 5000) * 10_000_000 + Int64(index % 5000)))
    if batch.count == 10_000 {
        _ = try stream.append(batch)
        batch.removeAll(keepingCapacity: true)
    }
}
_ = try stream.append(batch)
let historyEnd = (0..<stream.partitionCount).map { stream.offsets(partition: $0).highWatermark }
print("\(readingCount) historical readings in \(stream.partitionCount) partitions; live appends at \(liveRate) readings/s")

let schema = "replay_benchmark_\(getpid())"
let quoted = PostgresIdentifier(schema).quoted
let database = PostgresConfiguration(conninfo: conninfo)
let connection = try await PostgresConnection.connect(database, logger: logger)
try await SchemaMigrator(schema: PostgresIdentifier(schema)).migrate(connection)
// The live processor has already consumed the history.
for (partition, offset) in historyEnd.enumerated() {
    try await connection.execute(
        "INSERT INTO \(quoted).processor_offsets (processor, output_version, stream, partition, next_offset) VALUES ('rollups', 'v1', 'readings', $1, $2)",
        [.int64(Int64(partition)), .int64(offset)]
    )
}

// Live load: a dedicated queue appends a batch every 10 ms and notes when each batch went in.
struct AppendMark { var appended: Int64; var at: ContinuousClock.Instant }
let marks = Mutex<[AppendMark]>([])
let stopLive = Atomic(false)
let clock = ContinuousClock()
let liveDone = DispatchSemaphore(value: 0)
DispatchQueue(label: "kappa.benchmark.live").async {
    var appended: Int64 = 0
    let started = clock.now
    var tick = 0
    while !stopLive.load(ordering: .relaxed) {
        tick += 1
        let due = Int64(Double(liveRate) * seconds(clock.now - started))
        var records: [LogAppendRecord] = []
        let now = Timestamp.now().microsecondsSinceEpoch
        while appended < due {
            records.append(reading(Int(appended), time: now))
            appended += 1
        }
        if !records.isEmpty {
            _ = try? stream.append(records)
            let mark = AppendMark(appended: appended, at: clock.now)
            marks.withLock { $0.append(mark) }
        }
        usleep(10_000)
    }
    liveDone.signal()
}

var liveConfiguration = ProcessorConfiguration()
liveConfiguration.checkpointInterval = .milliseconds(250)
let live = try ProcessorSet.make(roles: [.rollups], log: log, database: database, schema: schema, configuration: liveConfiguration, status: ProcessorStatus(), logger: logger)
var replayConfiguration = ProcessorConfiguration()
replayConfiguration.outputVersion = "replayed"
replayConfiguration.maxBatchRecords = 500_000
let replay = Replay(role: .rollups, start: .earliest, configuration: replayConfiguration, log: log, database: database, schema: schema, logger: logger)
_ = try await replay.prepare()

let liveGroup = ServiceGroup(services: live, logger: logger)
let historyTotal = historyEnd.reduce(0, +)
var lags: [Double] = []
let replayStarted = clock.now
let replayTime: Duration = try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await liveGroup.run() }
    let replayGroup = ServiceGroup(configuration: ServiceGroupConfiguration(services: try replay.services(untilCaughtUp: true), logger: logger))
    tasks.addTask { try await replayGroup.run() }
    var finished: Duration?
    while finished == nil || clock.now - replayStarted < finished! + .seconds(2) {
        try await Task.sleep(for: .milliseconds(100))
        let sums = try await connection.query(
            "SELECT output_version, sum(next_offset)::bigint FROM \(quoted).processor_offsets WHERE processor = 'rollups' GROUP BY 1"
        )
        var committed: [String: Int64] = [:]
        for row in sums { committed[try row[0].string] = try row[1].int64 }
        let liveCommitted = (committed["v1"] ?? 0) - historyTotal
        let oldestPending = marks.withLock { marks in marks.first { $0.appended > liveCommitted }?.at }
        lags.append(oldestPending.map { seconds(clock.now - $0) } ?? 0)
        if finished == nil, (committed["replayed"] ?? 0) >= historyTotal { finished = clock.now - replayStarted }
    }
    try await tasks.next()  // the replay group ends once caught up
    stopLive.store(true, ordering: .relaxed)
    await liveGroup.triggerGracefulShutdown()
    try await tasks.waitForAll()
    return finished!
}
liveDone.wait()

let replayRate = Double(readingCount) / seconds(replayTime)
let appendedLive = marks.withLock { $0.last?.appended ?? 0 }
let liveSeconds = seconds(clock.now - replayStarted)
line("replay log → rollups_replayed (3 widths)", replayRate, "live appends meanwhile", Double(appendedLive) / liveSeconds, unit: "readings/s")
line("10 M readings at this replay rate", 10_000_000 / replayRate, "goal", 60, unit: "s")
let sortedLags = lags.sorted()
line("live processor lag, max", sortedLags.last ?? 0, "goal", 2, unit: "s")
print("(live lag median \(formatted(sortedLags[sortedLags.count / 2])) s over \(lags.count) samples; replay \(formatted(seconds(replayTime))) s for \(readingCount) readings)")
try await connection.executeScript("SET client_min_messages = warning; DROP SCHEMA \(quoted) CASCADE")
await connection.close()
log.close()
_ = system("rm -rf '\(directory)'")
