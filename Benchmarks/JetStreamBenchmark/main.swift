// Append rate of the log on NATS JetStream (replicas 1 on one node, replicas 3 on a 3-node cluster) beside the
// embedded disk log, on the same records in the same run, as ratios. The NATS servers are real nats-server
// processes on loopback, started and stopped here by the test harness.
// Then end to end (EndToEnd.swift): the MQTT bridge into each log beside mosquitto_sub on the same backlog.
// Run: swift build -c release --product JetStreamBenchmark && .build/release/JetStreamBenchmark [--records N] [--batch N] [--messages N]
import BenchmarkSupport
import KappaCore
import KappaJetStream
import KappaLog
import KappaTestSupport
import Logging

#if canImport(Glibc)
import Glibc
#endif

let recordCount = Int(option("--records") ?? "") ?? 200_000
let batchSize = Int(option("--batch") ?? "") ?? 500
let messageCount = Int(option("--messages") ?? "") ?? 20_000
var appendRates: [String: Double] = [:]
let partitionCount = 4
let logger = Logger(label: "kappa.jetstream.benchmark", factory: { _ in SwiftLogNoOpLogHandler() })

/// ~64-byte records as the bridge appends them: a device id key, an event time, a 48-byte value.
let batches: [[LogAppendRecord]] = stride(from: 0, to: recordCount, by: batchSize).map { start in
    (start..<min(start + batchSize, recordCount)).map { number in
        LogAppendRecord(
            key: "device-\(1000 + number % 1000)",
            eventTime: Timestamp(millisecondsSinceEpoch: 1_700_000_000_000 + Int64(number)),
            value: (0..<48).map { UInt8(truncatingIfNeeded: number &* 7 &+ $0) }
        )
    }
}

/// Appends every batch, one append call per batch as the bridge does per burst; records per second.
func appendRate(_ stream: some LogStream) async throws -> Double {
    let elapsed = try await Blocking.run {
        let clock = ContinuousClock()
        return try clock.measure {
            for batch in batches { _ = try stream.append(batch) }
        }
    }
    return Double(recordCount) / seconds(elapsed)
}

/// Reads every partition from its start in reads of up to 10 000 records, as a processor's replay does;
/// records per second.
func readRate(_ stream: some LogStream) async throws -> Double {
    let (count, elapsed) = try await Blocking.run {
        var count = 0
        let elapsed = try ContinuousClock().measure {
            for partition in 0..<stream.partitionCount {
                var offset = stream.offsets(partition: partition).start
                while true {
                    let result = try stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 10_000, maxBytes: 1 << 20))
                    if result.records.isEmpty { break }
                    count += result.records.count
                    offset = result.nextOffset
                }
            }
        }
        return (count, elapsed)
    }
    precondition(count == recordCount, "read back \(count) of \(recordCount) records")
    return Double(count) / seconds(elapsed)
}

/// CPU seconds (user + system) this process has used, for where a run's CPU goes.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return value(usage.ru_utime) + value(usage.ru_stime)
}

func format(_ value: Double) -> String {
    let scaled = (value * 100).rounded() / 100
    return "\(scaled)"
}

print("JetStreamBenchmark: \(recordCount) records of ~64 bytes, \(partitionCount) partitions, appends of \(batchSize) records")

let directory = try TemporaryDirectory.make(prefix: "kappa-jetstream-benchmark")
let disk = try DiskLog(directory: directory, logger: logger)
let embeddedCPUBefore = processCPUSeconds()
let embeddedStream = try disk.createStream(named: "readings", partitionCount: partitionCount)
let embedded = try await appendRate(embeddedStream)
let embeddedCPU = processCPUSeconds() - embeddedCPUBefore
let embeddedRead = try await readRate(embeddedStream)
disk.close()
try? run("/bin/rm", ["-rf", directory])
appendRates["embedded"] = embedded
print("embedded disk log (fsync=\(DiskLogConfiguration().fsync)): \(format(embedded / 1000)) k records/s")
print("  CPU during the appends: \(format(embeddedCPU)) s = \(format(embeddedCPU * 1e6 / Double(recordCount))) µs per record")
print("  read back from the start (page cache warm): \(format(embeddedRead / 1000)) k records/s")

for (nodes, replicas) in [(1, 1), (3, 3)] {
    let cluster = try await NATSCluster.start(nodes: nodes)
    let log = try JetStreamLog.connect(configuration: JetStreamConfiguration(servers: cluster.urls, replicas: replicas), logger: logger)
    let stream = try await Blocking.run { try log.createStream(named: "readings", partitionCount: partitionCount) }
    let serversBefore = (0..<nodes).compactMap { cluster.cpuSeconds(node: $0) }.reduce(0, +)
    let clientBefore = processCPUSeconds()
    let rate = try await appendRate(stream)
    let client = processCPUSeconds() - clientBefore
    let servers = (0..<nodes).compactMap { cluster.cpuSeconds(node: $0) }.reduce(0, +) - serversBefore
    let read = try await readRate(stream)
    appendRates["JetStream R\(replicas)"] = rate
    log.close()
    cluster.stop()
    print("JetStream R\(replicas) (\(nodes) node\(nodes == 1 ? "" : "s"), file storage): \(format(rate / 1000)) k records/s; ratio JetStream/embedded = \(format(rate / embedded))")
    print("  CPU during the appends: client \(format(client)) s, nats-server(s) \(format(servers)) s = \(format((client + servers) * 1e6 / Double(recordCount))) µs per record")
    print("  read back from the start: \(format(read / 1000)) k records/s; ratio JetStream/embedded = \(format(read / embeddedRead))")
}

try await endToEnd(messages: messageCount, appendRates: appendRates)
