// The headline: `kappa run` with every processor and PostgreSQL beside a plain `mosquitto_sub`, on the same
// fleet load from the same broker, in the same run.
//
// 1. Throughput. `kappa-sim --fast --qos 1` publishes a fixed fleet load into the persistent sessions of both
//    consumers while they are away; then each comes back alone and the time to take in the whole backlog is
//    measured (the consumer's own rate, not the publisher's). kappa's figure is MQTT → log; the time until the
//    processors have committed everything to PostgreSQL is printed beside it.
// 2. Latency, at half of kappa's measured rate: bare-number readings whose value is the publish time (µs),
//    on a route where the gateway stamps the receive time, so the log holds both ends: publish → in the log.
//    Meanwhile PostgreSQL is sampled for the age of the newest reading visible in the rollups.
// 3. Memory: peak RSS (VmHWM) of kappa for a small and a large fleet of the same message count; the
//    difference per active device-metric is the per-series cost beyond the fixed base.
//
// 4. End to end (`EndToEnd.swift`): the load of issue 17 live, 20 `mosquitto_pub -l` publishers × 15 000 JSON
//    readings; intake and first publish → every reading in `rollups_1m`, each as a ratio to a plain
//    mosquitto_sub in the same round, and CPU-seconds per million readings of kappa (by thread) and PostgreSQL.
//
//   swift build -c release && .build/release/HeadlineBenchmark [messages] [large-fleet-devices]
//       [--only throughput|latency|memory|endtoend] [--latency-rate msg/s] [--roles bridge,rollups,…] [--processor-nice n]
//       [--intake-deferral-lag records] [--e2e-devices 20] [--e2e-readings 15000] [--rounds 1] [--baseline-kappa PATH]
//
// `--baseline-kappa` runs another build's `kappa` beside this one in the end-to-end stage (order alternating
// between rounds), for an A/B on a shared machine. `--only` runs one stage (latency alone runs at `--latency-rate`, default 5 000 msg/s), and `--roles` is
// handed to `kappa run` like `--processor-nice` and `--intake-deferral-lag`, so a figure can be taken apart: bridge alone, then with the
// processors, at their default priority or not.
import BenchmarkSupport
import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaTestSupport
import Logging

let valueOptions: Set<String> = ["--only", "--latency-rate", "--roles", "--processor-nice", "--intake-deferral-lag",
                                  "--e2e-devices", "--e2e-readings", "--rounds", "--baseline-kappa"]
let positional: [Int] = {
    var numbers: [Int] = []
    var arguments = CommandLine.arguments.dropFirst()[...]
    while let argument = arguments.popFirst() {
        if valueOptions.contains(argument) { _ = arguments.popFirst() } else if let number = Int(argument) { numbers.append(number) }
    }
    return numbers
}()
let messageCount = positional.first ?? 100_000
let largeFleet = positional.dropFirst().first ?? 100_000
let onlyStage = option("--only")
let roles = option("--roles")
let processorNice = option("--processor-nice")
let deferralLag = option("--intake-deferral-lag")
let fleetDevices = 1_000
let readingsPerMessage = 3
let logger: Logger = {
    var logger = Logger(label: "kappa.bench.headline")
    logger.logLevel = .warning
    return logger
}()

func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.down)))]
}

/// Peak resident set of a process (VmHWM), in bytes.
func peakRSS(pid: Int32) -> Int { residentBytes(pid: pid, field: "VmHWM:") }

/// Resident set of a process now (after its work, with its state), in bytes.
func currentRSS(pid: Int32) -> Int { residentBytes(pid: pid, field: "VmRSS:") }

func residentBytes(pid: Int32, field: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
          let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return 0 }
    return kilobytes * 1024
}

/// `kappa run`, every role, on its own data directory and database.
typealias Gateway = RunningGateway

extension RunningGateway {
    /// `executable`: another build's `kappa` (nil: the one built beside this benchmark).
    static func start(broker: MosquittoBroker, database: PostgresTestDatabase, directory: String, clientID: String, prefix: String,
                      executable: String? = nil) async throws -> RunningGateway {
        try await start([
            "--mqtt", broker.url, "--client-id", clientID, "--data-dir", "\(directory)/data",
            "--topic", "\(prefix)/devices/{device}/telemetry=json", "--topic", "\(prefix)/latency/{device}/{metric}=number",
            "--database", database.conninfo, "--disk-floor-mb", "0", "--log-level", "info",
        ] + (roles.map { ["--roles", $0] } ?? []) + (processorNice.map { ["--processor-nice", $0] } ?? [])
            + (deferralLag.map { ["--intake-deferral-lag", $0] } ?? []),
            executable: executable, outputFile: "\(directory)/kappa-\(clientID)-\(UInt32.random(in: 0...UInt32.max)).log")
    }
}

func simulate(broker: MosquittoBroker, prefix: String, devices: Int, count: Int, directory: String) async throws {
    let simulator = try KappaProcess("kappa-sim", arguments: [
        "--mqtt", broker.url, "--topic-prefix", prefix, "--fast", "--qos", "1", "--quiet",
        "--devices", String(devices), "--count", String(count), "--seed", "3",
    ], outputFile: "\(directory)/kappa-sim-\(devices).log")
    guard await simulator.waitForExit(timeout: .seconds(900)) == 0 else { fatalError("kappa-sim failed:\n\(simulator.output)") }
}

func rolledUp(_ database: PostgresTestDatabase) async throws -> Int64 {
    let connection = try await database.connect()
    let rows = try? await connection.query("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device NOT LIKE 'latency-%'")
    await connection.close()
    return (try? rows?.first?[0].int64) ?? 0
}

// MARK: Setup

let broker = try await MosquittoBroker.start(options: .init(maxQueuedMessages: messageCount * 2 + 100_000))
defer { broker.stop() }
let postgres = PostgresServer()
let directory = try TemporaryDirectory.make(prefix: "kappa-bench-headline")
let prefix = "headline"
print("Headline benchmark: \(messageCount) fleet messages (\(fleetDevices) devices, \(readingsPerMessage) readings each) at QoS 1; kappa run with every processor and PostgreSQL")

// MARK: 1. Throughput

/// Stage 1; returns kappa's MQTT → log rate and the gateway, still running.
func measureThroughput(database: PostgresTestDatabase) async throws -> (rate: Double, gateway: Gateway) {
    // Both consumers create their persistent sessions first, then go away while the fleet publishes.
    var gateway = try await Gateway.start(broker: broker, database: database, directory: directory, clientID: "bench-kappa", prefix: prefix)
    await gateway.waitUntilConnected()
    await gateway.stop()
    let subArguments = ["-p", "\(broker.port)", "-q", "1", "-c", "-i", "bench-mosquitto-sub", "-t", "\(prefix)/devices/+/telemetry"]
    try run("/usr/bin/mosquitto_sub", subArguments + ["-W", "1"], allowFailure: true, discardOutput: true)
    let published = ContinuousClock.now
    try await simulate(broker: broker, prefix: prefix, devices: fleetDevices, count: messageCount, directory: directory)
    let publishSeconds = seconds(ContinuousClock.now - published)

    let subStarted = ContinuousClock.now
    let subscriber = try KappaProcess(executablePath: "/usr/bin/mosquitto_sub", arguments: subArguments + ["-C", "\(messageCount)"], outputFile: "\(directory)/mosquitto_sub.out")
    guard await subscriber.waitForExit(timeout: .seconds(600)) == 0 else { fatalError("mosquitto_sub failed") }
    let subRate = Double(messageCount) / seconds(ContinuousClock.now - subStarted)

    let kappaStarted = ContinuousClock.now
    gateway = try await Gateway.start(broker: broker, database: database, directory: directory, clientID: "bench-kappa", prefix: prefix)
    // Timed from the first scrape, not from the process start, so kappa's start-up (the process, the HTTP
    // server) does not count against it; what it took in before then is left out of the count.
    let intakeStarted = ContinuousClock.now
    var metrics = await gateway.metrics()
    let takenBeforeTiming = metrics.total("kappa_mqtt_messages_total")
    while metrics.total("kappa_mqtt_messages_total") < Double(messageCount) {
        try await Task.sleep(for: .milliseconds(10))
        metrics = await gateway.metrics()
    }
    let intakeSeconds = seconds(ContinuousClock.now - intakeStarted)
    let kappaRate = (Double(messageCount) - takenBeforeTiming) / intakeSeconds
    let lagAtIntakeEnd = metrics.values("kappa_processor_lag_records").map { "\($0.labels["processor"] ?? "?")=\(Int($0.value))" }.joined(separator: " ")
    let readingsAppended = Int64(metrics.total("kappa_readings_appended_total"))
    while true {
        let lag = await gateway.metrics().total("kappa_processor_lag_records")
        // Without the rollups role there is nothing to wait for in PostgreSQL.
        let rollupsRun = roles.map { $0.split(separator: ",").contains("rollups") } ?? true
        if lag == 0, !rollupsRun { break }
        if lag == 0, try await rolledUp(database) >= readingsAppended { break }
        try await Task.sleep(for: .milliseconds(50))
    }
    let committedSeconds = seconds(ContinuousClock.now - kappaStarted)

    print(String(format: "publish (kappa-sim --fast, QoS 1):   %9.0f msg/s  (%.1f s)", Double(messageCount) / publishSeconds, publishSeconds))
    print(String(format: "mosquitto_sub:                        %9.0f msg/s  %9.0f readings/s", subRate, subRate * Double(readingsPerMessage)))
    print(String(format: "kappa run, MQTT → log:                %9.0f msg/s  %9.0f readings/s", kappaRate, kappaRate * Double(readingsPerMessage)))
    print(String(format: "ratio kappa / mosquitto_sub:          %9.2f  (goal ≥ 0.9)", kappaRate / subRate))
    print(String(format: "kappa run, MQTT → committed in PostgreSQL (all processors): %.0f readings/s (%.1f s for %d readings), %.2f× mosquitto_sub",
                 Double(readingsAppended) / committedSeconds, committedSeconds, readingsAppended,
                 Double(readingsAppended) / committedSeconds / (subRate * Double(readingsPerMessage))))
    print("processor lag when intake finished (records): \(lagAtIntakeEnd); 0 for all \(String(format: "%.1f", committedSeconds - seconds(intakeStarted - kappaStarted) - intakeSeconds)) s later")
    return (kappaRate, gateway)
}

// MARK: 4. End to end, first (it restarts PostgreSQL to load pg_stat_statements)

if onlyStage == nil || onlyStage == "endtoend" {
    try await measureEndToEnd(broker: broker, postgres: postgres, directory: directory, devices: Int(option("--e2e-devices") ?? "") ?? 20,
                              readingsPerDevice: Int(option("--e2e-readings") ?? "") ?? 15_000, rounds: Int(option("--rounds") ?? "") ?? 1,
                              baseline: option("--baseline-kappa"))
}
if onlyStage == "endtoend" {
    await postgres.stop()
    exit(0)
}

let database = try await postgres.makeDatabase(prefix: "headline")
let throughput: (rate: Double, gateway: Gateway)?
if onlyStage == nil || onlyStage == "throughput" {
    throughput = try await measureThroughput(database: database)
} else {
    throughput = nil
}
if onlyStage == "throughput" {
    await throughput?.gateway.stop()
    await postgres.stop()
    exit(0)
}

// MARK: 2. Latency at half of kappa's rate

if onlyStage == nil || onlyStage == "latency" {

    let latencyRate = Double(option("--latency-rate") ?? "") ?? throughput.map { min($0.rate / 2, 20_000) } ?? 5_000
    let latencySeconds = 10.0
    let latencyCount = Int(latencyRate * latencySeconds)
    let gateway: Gateway
    if let throughput {
        gateway = throughput.gateway
    } else {
        gateway = try await Gateway.start(broker: broker, database: database, directory: directory, clientID: "bench-kappa", prefix: prefix)
        await gateway.waitUntilConnected()
    }
    // The comparator: a plain mosquitto_sub on the same topics stamps each message as it arrives, in the same run.
    let plainSubscriber = try KappaProcess(executablePath: "/usr/bin/mosquitto_sub", arguments: [
        "-p", "\(broker.port)", "-q", "1", "-i", "bench-latency-sub", "-t", "\(prefix)/latency/+/+", "-F", "%U %p",
        "-C", String(latencyCount), "-W", String(Int(latencySeconds) + 60),
    ], outputFile: "\(directory)/mosquitto_sub-latency.out")
    try await Task.sleep(for: .milliseconds(500))
    let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port, maxInflightMessages: 1_000), logger: logger)
    try publisher.start()
    try await publisher.waitUntilConnected()
    let sampler = Task { () -> [Double] in
        var ages: [Double] = []
        let connection = try await database.connect()
        try? await Task.sleep(for: .seconds(2))
        while !Task.isCancelled {
            let rows = try? await connection.query("SELECT extract(epoch FROM clock_timestamp() - max(last_time))::float8 FROM kappa.rollups_1m WHERE device LIKE 'latency-%'")
            if let row = rows?.first, !row[0].isNull, let age = try? row[0].double { ages.append(age) }
            try? await Task.sleep(for: .milliseconds(97))
        }
        await connection.close()
        return ages
    }
    let interval = Duration.seconds(1.0 / latencyRate)
    var due = ContinuousClock.now
    for index in 0..<latencyCount {
        due += interval
        if due > ContinuousClock.now + .milliseconds(1) { try await Task.sleep(until: due, clock: .continuous) }
        let microseconds = Timestamp.now().nanosecondsSinceEpoch / 1_000
        try publisher.publish(topic: "\(prefix)/latency/latency-\(index % 100)/publish_us", payload: Array(String(microseconds).utf8), qos: .atLeastOnce)
    }
    // Sampling stops with the publishing: afterwards the newest reading only gets older.
    sampler.cancel()
    let visibilityAges = (try await sampler.value).sorted()
    try await Task.sleep(for: .seconds(2))
    publisher.disconnect()
    let kappaPeakRSS = peakRSS(pid: gateway.process.pid)
    await gateway.stop()
    guard await plainSubscriber.waitForExit(timeout: .seconds(60)) == 0 else { fatalError("mosquitto_sub (latency) failed:\n\(plainSubscriber.output.suffix(500))") }
    let plainLatencies = plainSubscriber.output.split(separator: "\n").compactMap { line -> Double? in
        let fields = line.split(separator: " ")
        guard fields.count == 2, let received = Double(fields[0]), let published = Double(fields[1]) else { return nil }
        return received * 1e6 - published
    }.sorted()

    let log = try DiskLog(directory: "\(directory)/data", logger: logger)
    let latencies = try LogContents.readings(of: log.openStream(named: KappaStreams.readings))
        .filter { $0.device.hasPrefix("latency-") }
        .map { Double($0.time.nanosecondsSinceEpoch / 1_000) - $0.value }
        .sorted()
    log.close()
    guard latencies.count >= latencyCount else { fatalError("only \(latencies.count) of \(latencyCount) latency readings reached the log") }
    func latencyLine(_ what: String, _ sorted: [Double]) -> String {
        String(format: "%@ p50 %6.2f  p99 %6.2f  p99.9 %6.2f  max %6.2f", what, percentile(sorted, 0.5) / 1000, percentile(sorted, 0.99) / 1000,
               percentile(sorted, 0.999) / 1000, (sorted.last ?? .nan) / 1000)
    }
    print(String(format: "latency at %.0f msg/s for %.0f s (ms):", latencyRate, latencySeconds))
    print(latencyLine("  publish → in kappa's log:       ", latencies) + "  (goal p99 < 5)")
    print(latencyLine("  publish → plain mosquitto_sub:  ", plainLatencies) + "  (\(plainLatencies.count) messages)")
    print(String(format: "  ratio of p99s, kappa / mosquitto_sub: %.2f", percentile(latencies, 0.99) / percentile(plainLatencies, 0.99)))
    print(String(format: "age of the newest reading visible in rollups_1m (s, %d samples):  p50 %.2f  p99 %.2f  max %.2f  (goal < 2)",
                 visibilityAges.count, percentile(visibilityAges, 0.5), percentile(visibilityAges, 0.99), visibilityAges.last ?? .nan))
    print(String(format: "peak RSS of kappa: %.1f MiB", Double(kappaPeakRSS) / 1_048_576))
}

// MARK: 3. Memory per device-metric

guard onlyStage == nil || onlyStage == "memory" else {
    await postgres.stop()
    exit(0)
}

func fleetFootprint(devices: Int, count: Int) async throws -> (peak: Int, settled: Int, deviceMetrics: Int64) {
    let database = try await postgres.makeDatabase(prefix: "memory")
    let fleetDirectory = try TemporaryDirectory.make(prefix: "kappa-bench-memory")
    let gateway = try await Gateway.start(broker: broker, database: database, directory: fleetDirectory, clientID: "bench-memory-\(devices)", prefix: "memory\(devices)")
    await gateway.waitUntilConnected()
    try await simulate(broker: broker, prefix: "memory\(devices)", devices: devices, count: count, directory: fleetDirectory)
    while true {
        let metrics = await gateway.metrics()
        if metrics.total("kappa_mqtt_messages_total") >= Double(count), metrics.total("kappa_processor_lag_records") == 0 { break }
        try await Task.sleep(for: .milliseconds(100))
    }
    let peak = peakRSS(pid: gateway.process.pid)
    // Settled: after a few more (empty) checkpoints, what the state itself holds.
    try await Task.sleep(for: .seconds(3))
    let settled = currentRSS(pid: gateway.process.pid)
    let connection = try await database.connect()
    let deviceMetrics = try await connection.query("SELECT count(*) FROM kappa.device_metrics").first?[0].int64 ?? 0
    await connection.close()
    await gateway.stop()
    return (peak, settled, deviceMetrics)
}

let memoryMessages = largeFleet * 2
let small = try await fleetFootprint(devices: 1_000, count: memoryMessages)
let large = try await fleetFootprint(devices: largeFleet, count: memoryMessages)
let addedSeries = Double(max(1, large.deviceMetrics - small.deviceMetrics))
print(String(format: "memory, %d messages each: %d device-metrics peak %.1f MiB (settled %.1f); %d device-metrics peak %.1f MiB (settled %.1f)",
             memoryMessages, small.deviceMetrics, Double(small.peak) / 1_048_576, Double(small.settled) / 1_048_576,
             large.deviceMetrics, Double(large.peak) / 1_048_576, Double(large.settled) / 1_048_576))
print(String(format: "RSS per active device-metric beyond the base: peak %.0f bytes, settled %.0f bytes  (goal < 1024)",
             Double(large.peak - small.peak) / addedSeries, Double(large.settled - small.settled) / addedSeries))
await postgres.stop()
