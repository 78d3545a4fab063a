// A million series on one machine: `kappa run` with every processor and PostgreSQL, at 10 k, 100 k and 1 M
// active series (devices × 10 metrics; 100,000 devices at the top), each figure beside its goal from issue 17
// and a comparator from the same run.
//
//   swift build -c release --product kappa && swift build -c release --product ScaleBenchmark && .build/release/ScaleBenchmark [10k 100k 1M]
//       [--readings 2000000] [--rounds n] [--query-repeats 9]
//
// Sizes are series counts (`10k`, `100k`, `1M` or a number, a multiple of 10); each size runs on a fresh database
// and data directory. Per size, as in HeadlineBenchmark: kappa's and a plain `mosquitto_sub`'s persistent sessions
// are made, the load is published into both while they are away (every device sends its ten readings per round,
// `--readings` at least in all, at least three rounds; `--rounds` fixes their number), then `mosquitto_sub`
// drains it, then `kappa run` does, until every processor has committed everything (lag 0 and every reading
// counted in `rollups_1m`). Measured:
// - RSS per series beyond the base: kappa's RSS when all is committed (and settled 3 s) minus the same
//   gateway's RSS idle before any load, over the series in `device_metrics`; the marginal cost between sizes
//   beside it.
// - checkpoint durations per processor (`kappa_processor_checkpoint_seconds`, sampled every 200 ms).
// - rollup rows per second: rows in the rollup views (and tuples written, per `pg_stat_user_tables`) over the
//   time from kappa's start until everything was committed.
// - CPU seconds per million readings from /proc: kappa's process since its start, split by thread (the bridge
//   `mqtt-network`, the processors' niced threads, the rest); PostgreSQL's server and backends; beside it
//   `mosquitto_sub`'s (user + system, from /usr/bin/time) draining the same load.
// - latency of the README's example queries on its example device `env-00003`, which holds the same 1,440
//   minutes of all ten metrics in every size, so "one device's last day" is the same query on the same rows
//   with more or fewer other series; the ratio to the first size is the flatness.
import BenchmarkSupport
import Foundation
import KappaCore
import KappaMQTT
import KappaPostgres
import KappaTestSupport
import Logging

let valueOptions: Set<String> = ["--readings", "--rounds", "--query-repeats"]
let sizes: [Int] = {
    var sizes: [Int] = []
    var arguments = CommandLine.arguments.dropFirst()[...]
    while let argument = arguments.popFirst() {
        if valueOptions.contains(argument) { _ = arguments.popFirst(); continue }
        let lowered = argument.lowercased()
        let multiplier = lowered.hasSuffix("k") ? 1_000 : lowered.hasSuffix("m") ? 1_000_000 : 1
        guard let number = Int(multiplier == 1 ? lowered : String(lowered.dropLast())), number * multiplier >= 10 else {
            fatalError("not a series count: \(argument) (10k, 100k, 1M or a number)")
        }
        sizes.append(number * multiplier / SyntheticFleet.metrics.count * SyntheticFleet.metrics.count)
    }
    return sizes.isEmpty ? [10_000, 100_000, 1_000_000] : sizes
}()
let minimumReadings = Int(option("--readings") ?? "") ?? 2_000_000
let queryRepeats = Int(option("--query-repeats") ?? "") ?? 9
let fixedRounds = Int(option("--rounds") ?? "")

/// Rounds of the fleet at a size: enough for `--readings`, at least three, unless `--rounds` says otherwise.
func rounds(series: Int) -> Int {
    fixedRounds ?? max(3, (minimumReadings + series - 1) / series)
}
let logger: Logger = {
    var logger = Logger(label: "kappa.bench.scale")
    logger.logLevel = .warning
    return logger
}()

/// Prints a line and flushes it: a run takes minutes per size, and its output usually goes to a file.
func report(_ line: String) {
    print(line)
    fflush(nil)
}

func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}

func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

// MARK: Setup

let largestLoad = sizes.map { series in rounds(series: series) * series / SyntheticFleet.metrics.count + ProbeDevice.minutes }.max() ?? 0
let broker = try await MosquittoBroker.start(options: .init(maxQueuedMessages: largestLoad + 100_000))
defer { broker.stop() }
let postgres = PostgresServer()
/// The postmaster's pid (the first line of its data directory's postmaster.pid), so its backends can be found.
func postmasterPID() async throws -> Int32 {
    try await postgres.start()
    let connection = try await PostgresConnection.connect(postgres.conninfo(), logger: PostgresServer.logger)
    let dataDirectory = try await connection.query("SHOW data_directory").first?[0].string ?? ""
    await connection.close()
    let pidFile = try String(contentsOfFile: "\(dataDirectory)/postmaster.pid", encoding: .utf8)
    guard let pid = pidFile.split(separator: "\n").first.flatMap({ Int32($0) }) else { fatalError("no postmaster pid in \(dataDirectory)") }
    return pid
}
let postmaster = try await postmasterPID()
report("Scale benchmark: kappa run with every processor and PostgreSQL, \(SyntheticFleet.metrics.count) metrics per device, JSON at QoS 1; "
      + "sizes \(sizes.map(String.init).joined(separator: ", ")) series; at least \(minimumReadings) readings each; load average \(loadAverage())")

/// Everything measured at one size, for the summary.
struct SizeResult {
    var series: Int
    var seriesSeen: Int64
    var readings: Int
    var baseRSS: Int
    var settledRSS: Int
    var settledAnonymous: Int
    var baseAnonymous: Int
    var peakRSS: Int
    var checkpoints: CheckpointDurations
    var rollupRows: Int64
    var rollupTuplesWritten: Int64
    var endToEndSeconds: Double
    var kappa: KappaCPU
    var postgresSeconds: Double
    var subscriberSeconds: Double?
    var subscriberRate: Double
    var intakeRate: Double
    var queries: [QueryLatency]

    var perMillion: Double { 1e6 / Double(readings) }
    var rssPerSeries: Double { Double(settledRSS - baseRSS) / Double(max(1, seriesSeen)) }
    var dayQuery: QueryLatency? { queries.first { $0.name == ExampleQuery.dayQueryName } }
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}

/// Publishes the probe device's day, then the fleet's rounds; returns the messages per second.
func publish(_ fleet: SyntheticFleet, probe: ProbeDevice) async throws -> Double {
    let client = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port, maxInflightMessages: 100), logger: logger)
    try client.start()
    try await client.waitUntilConnected()
    let publisher = WindowedPublisher(client: client)
    let started = ContinuousClock.now
    for minute in 0..<ProbeDevice.minutes {
        try await publisher.send(topic: probe.topic, payload: probe.payload(minute: minute))
    }
    // Device names are made once per size; payloads on the fly.
    let names = (0..<fleet.devices).map { fleet.topic(device: SyntheticFleet.deviceName($0)) }
    for round in 0..<fleet.rounds {
        for device in 0..<fleet.devices where !(round == fleet.rounds - 1 && device == fleet.devices - 1) {
            try await publisher.send(topic: names[device], payload: fleet.payload(device: device, round: round))
        }
    }
    try await publisher.finish(topic: names[fleet.devices - 1], payload: fleet.payload(device: fleet.devices - 1, round: fleet.rounds - 1))
    let rate = Double(fleet.messages + ProbeDevice.minutes) / seconds(ContinuousClock.now - started)
    client.disconnect()
    return rate
}

func rolledUpReadings(_ connection: PostgresConnection) async throws -> Int64 {
    try await connection.query("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m").first?[0].int64 ?? 0
}

// MARK: One size

func measure(series: Int) async throws -> SizeResult {
    let devices = series / SyntheticFleet.metrics.count
    let roundCount = rounds(series: series)
    let prefix = "scale\(series)"
    let fleet = SyntheticFleet(devices: devices, rounds: roundCount, topicPrefix: prefix)
    let probe = ProbeDevice(topicPrefix: prefix)
    let messages = fleet.messages + ProbeDevice.minutes
    let readings = fleet.readings + probe.readings
    let database = try await postgres.makeDatabase(prefix: "scale")
    let directory = try TemporaryDirectory.make(prefix: "kappa-bench-scale")
    let clientID = "bench-scale-\(series)"
    report("\n== \(series) series: \(devices) devices × \(SyntheticFleet.metrics.count) metrics, \(roundCount) rounds \(fleet.spacingMilliseconds / 1_000) s apart, "
          + "plus \(ProbeDevice.name)'s last day: \(messages) messages, \(readings) readings; load average \(loadAverage())")

    // The base: the same gateway, up, subscribed and idle, before any load.
    var gateway = try await ScaleGateway.start(brokerURL: broker.url, conninfo: database.conninfo, directory: directory, clientID: clientID, topicPrefix: prefix)
    await gateway.waitUntilConnected()
    try await Task.sleep(for: .seconds(2))
    let baseRSS = ProcessAccounting.statusBytes(gateway.process.pid, "VmRSS:")
    let baseAnonymous = ProcessAccounting.statusBytes(gateway.process.pid, "RssAnon:")
    let startupSeconds = ProcessAccounting.processSeconds(gateway.process.pid)
    await gateway.stop(timeout: .seconds(300))

    let subscriberArguments = ["-p", "\(broker.port)", "-q", "1", "-c", "-i", "bench-scale-sub-\(series)", "-t", "\(prefix)/devices/+/telemetry"]
    try run("/usr/bin/mosquitto_sub", subscriberArguments + ["-W", "1"], allowFailure: true, discardOutput: true)
    let publishRate = try await publish(fleet, probe: probe)

    // The comparator: a plain mosquitto_sub drains the same backlog.
    let timeFile = "\(directory)/mosquitto_sub.time"
    let subscriberOutput = "\(directory)/mosquitto_sub.out"
    let subscriberStarted = ContinuousClock.now
    let subscriber = try KappaProcess(executablePath: "/usr/bin/time",
                                      arguments: ["-f", "%U %S", "-o", timeFile, "/usr/bin/mosquitto_sub"] + subscriberArguments + ["-C", "\(messages)"],
                                      outputFile: subscriberOutput)
    guard await subscriber.waitForExit(timeout: .seconds(3_600)) == 0 else { fatalError("mosquitto_sub failed:\n\(subscriber.output.suffix(500))") }
    let subscriberRate = Double(messages) / seconds(ContinuousClock.now - subscriberStarted)
    let subscriberSeconds = ((try? String(contentsOfFile: timeFile, encoding: .utf8)) ?? "")
        .split(whereSeparator: \.isWhitespace).compactMap { Double($0) }.reduce(0, +)
    try? FileManager.default.removeItem(atPath: subscriberOutput)

    // kappa drains it, until every processor has committed everything.
    let postgresBefore = ProcessAccounting.treeSeconds(root: postmaster)
    let launched = ContinuousClock.now
    gateway = try await ScaleGateway.start(brokerURL: broker.url, conninfo: database.conninfo, directory: directory, clientID: clientID, topicPrefix: prefix)
    let intakeStarted = ContinuousClock.now
    var metrics = await gateway.metrics()
    let takenBeforeTiming = metrics.total("kappa_mqtt_messages_total")
    var checkpoints = CheckpointDurations()
    checkpoints.observe(metrics, recording: true)
    var intakeSeconds: Double?
    var peakRSS = 0
    let connection = try await database.connect(applicationName: "scale-benchmark")
    while true {
        if intakeSeconds == nil, metrics.total("kappa_mqtt_messages_total") >= Double(messages) {
            intakeSeconds = seconds(ContinuousClock.now - intakeStarted)
        }
        if metrics.total("kappa_processor_failed") > 0 { fatalError("a processor failed:\n\(gateway.process.output.suffix(2_000))") }
        if intakeSeconds != nil, !metrics.samples.isEmpty, metrics.total("kappa_processor_lag_records") == 0,
           try await rolledUpReadings(connection) >= Int64(metrics.total("kappa_readings_appended_total")) {
            break
        }
        guard ContinuousClock.now - launched < .seconds(3 * 3_600) else { fatalError("kappa did not commit everything in 3 hours") }
        try await Task.sleep(for: .milliseconds(200))
        metrics = await gateway.metrics()
        checkpoints.observe(metrics, recording: true)
        peakRSS = max(peakRSS, ProcessAccounting.statusBytes(gateway.process.pid, "VmRSS:"))
    }
    let endToEndSeconds = seconds(ContinuousClock.now - launched)
    let kappaCPU = KappaCPU.between([:], ProcessAccounting.threads(of: gateway.process.pid),
                                    processSeconds: ProcessAccounting.processSeconds(gateway.process.pid))
    let postgresSeconds = ProcessAccounting.treeSeconds(root: postmaster) - postgresBefore
    let appended = Int(metrics.total("kappa_readings_appended_total"))
    let intakeRate = (Double(messages) - takenBeforeTiming) / (intakeSeconds ?? .nan)

    try await Task.sleep(for: .seconds(3))
    let settledRSS = ProcessAccounting.statusBytes(gateway.process.pid, "VmRSS:")
    let settledAnonymous = ProcessAccounting.statusBytes(gateway.process.pid, "RssAnon:")
    peakRSS = max(peakRSS, ProcessAccounting.statusBytes(gateway.process.pid, "VmHWM:"))

    let seriesSeen = try await connection.query("SELECT count(*) FROM kappa.device_metrics").first?[0].int64 ?? 0
    var rollupRows: Int64 = 0
    for view in ["rollups_1m", "rollups_1h", "rollups_1d"] {
        rollupRows += try await connection.query("SELECT count(*) FROM kappa.\(view)").first?[0].int64 ?? 0
    }
    let rollupTuplesWritten = (try? await connection.query(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0)::bigint FROM pg_stat_user_tables WHERE schemaname = 'kappa' AND relname LIKE '%rollup%'"
    ).first?[0].int64) ?? 0
    let anomalies = (try? await connection.query("SELECT count(*) FROM kappa.anomalies").first?[0].int64) ?? 0
    var queries: [QueryLatency] = []
    for query in ExampleQuery.all(device: ProbeDevice.name) {
        queries.append(await QueryLatency.measure(query, on: connection, repeats: queryRepeats))
    }
    await connection.close()
    await gateway.stop(timeout: .seconds(300))

    let result = SizeResult(
        series: series, seriesSeen: seriesSeen, readings: readings, baseRSS: baseRSS, settledRSS: settledRSS,
        settledAnonymous: settledAnonymous, baseAnonymous: baseAnonymous, peakRSS: peakRSS, checkpoints: checkpoints,
        rollupRows: rollupRows, rollupTuplesWritten: rollupTuplesWritten, endToEndSeconds: endToEndSeconds, kappa: kappaCPU,
        postgresSeconds: postgresSeconds, subscriberSeconds: subscriberSeconds > 0 ? subscriberSeconds : nil,
        subscriberRate: subscriberRate, intakeRate: intakeRate, queries: queries
    )

    report(String(format: "publish (QoS 1, one connection): %.0f msg/s; mosquitto_sub drained it at %.0f msg/s (%.0f readings/s)",
                 publishRate, subscriberRate, subscriberRate * Double(SyntheticFleet.metrics.count)))
    report(String(format: "kappa run, MQTT → log: %.0f msg/s, %.2f× mosquitto_sub; everything committed %.1f s after start: %.0f readings/s end to end, %.2f× mosquitto_sub",
                 intakeRate, intakeRate / subscriberRate, endToEndSeconds, Double(readings) / endToEndSeconds,
                 Double(readings) / endToEndSeconds / (subscriberRate * Double(SyntheticFleet.metrics.count)) ))
    if appended != readings { report("  note: kappa appended \(appended) readings of the \(readings) published") }
    report("series in device_metrics: \(seriesSeen); anomaly episodes: \(anomalies)")
    report("RSS of kappa: idle base \(mebibytes(baseRSS)) (anonymous \(mebibytes(baseAnonymous))), settled \(mebibytes(settledRSS)) (anonymous \(mebibytes(settledAnonymous))), peak \(mebibytes(peakRSS))")
    report(String(format: "RSS per series beyond the base: settled %.0f B, anonymous %.0f B, peak %.0f B  (goal ≤ 512 B at 1 M series)",
                 result.rssPerSeries, Double(settledAnonymous - baseAnonymous) / Double(max(1, seriesSeen)), Double(peakRSS - baseRSS) / Double(max(1, seriesSeen))))
    for (processor, durations) in checkpoints.seconds.sorted(by: { $0.key < $1.key }) {
        report(String(format: "checkpoint %@ %4.0f checkpoints, %3d seen: p50 %.3f s  p90 %.3f s  max %.3f s",
                     processor.padding(toLength: 13, withPad: " ", startingAt: 0), checkpoints.checkpoints[processor] ?? 0, durations.count, percentile(durations, 0.5), percentile(durations, 0.9), durations.max() ?? .nan))
    }
    report(String(format: "rollup rows in rollups_1m/1h/1d: %d, %.0f rows/s over the %.1f s end to end; tuples written (pg_stat_user_tables, inserts + updates): %d, %.0f/s",
                 rollupRows, Double(rollupRows) / endToEndSeconds, endToEndSeconds, rollupTuplesWritten, Double(rollupTuplesWritten) / endToEndSeconds))
    let perMillion = result.perMillion
    report(String(format: "kappa CPU per million readings: %.2f s (bridge %.2f, processors %.2f, other %.2f)  (goal ≤ 1); its start-up idle took %.2f s",
                 kappaCPU.total * perMillion, kappaCPU.bridge * perMillion, kappaCPU.processors * perMillion, kappaCPU.other * perMillion, startupSeconds))
    report("  by thread (s): " + kappaCPU.byThreadName.prefix(8).map { String(format: "%@ %.2f", $0.name, $0.seconds) }.joined(separator: ", "))
    if let subscriberSeconds = result.subscriberSeconds {
        report(String(format: "mosquitto_sub CPU per million readings: %.2f s; kappa / mosquitto_sub %.1f×", subscriberSeconds * perMillion, kappaCPU.total / subscriberSeconds))
    }
    report(String(format: "PostgreSQL CPU per million readings: %.2f s (server and backends)", postgresSeconds * perMillion))
    report("query latency on \(ProbeDevice.name) (ms, \(queryRepeats) runs each after one unmeasured):")
    for query in queries {
        if let failure = query.failure {
            report("  \(query.name): failed: \(failure)")
        } else {
            report(String(format: "  %@ p50 %8.2f  max %8.2f  (%d rows)", query.name.padding(toLength: 38, withPad: " ", startingAt: 0), query.median, query.maximum, query.rows))
        }
    }

    let admin = try await PostgresConnection.connect(postgres.conninfo(), logger: PostgresServer.logger)
    _ = try? await admin.execute("DROP DATABASE \(PostgresIdentifier(database.name).quoted) WITH (FORCE)")
    await admin.close()
    try? FileManager.default.removeItem(atPath: directory)
    return result
}

// MARK: Summary

var results: [SizeResult] = []
for series in sizes {
    results.append(try await measure(series: series))
}

report("\n== summary (comparator: the first size, or the previous one for the marginal memory)")
let first = results[0]
for (index, result) in results.enumerated() {
    var line = String(format: "%8d series: RSS/series %5.0f B", result.series, result.rssPerSeries)
    if index > 0 {
        let previous = results[index - 1]
        let marginal = Double(result.settledRSS - previous.settledRSS) / Double(max(1, result.seriesSeen - previous.seriesSeen))
        line += String(format: " (marginal over %d: %.0f B)", previous.series, marginal)
    }
    let rollupCheckpoints = result.checkpoints.seconds["rollups"] ?? []
    line += String(format: "; rollups checkpoint p50 %.2f s max %.2f s; rollup rows/s %.0f (%.2f×); kappa CPU/M %.2f s (bridge %.2f, processors %.2f); PostgreSQL CPU/M %.2f s",
                   percentile(rollupCheckpoints, 0.5), rollupCheckpoints.max() ?? .nan,
                   Double(result.rollupRows) / result.endToEndSeconds,
                   (Double(result.rollupRows) / result.endToEndSeconds) / (Double(first.rollupRows) / first.endToEndSeconds),
                   result.kappa.total * result.perMillion, result.kappa.bridge * result.perMillion, result.kappa.processors * result.perMillion,
                   result.postgresSeconds * result.perMillion)
    if let day = result.dayQuery, let firstDay = first.dayQuery {
        line += String(format: "; last-day query p50 %.2f ms (%.2f× the %d-series run)", day.median, day.median / firstDay.median, first.series)
    }
    report(line)
}
report("goals: ≤ 512 B per series at 1 M series; kappa ≤ 1 core-second per million readings; one device's last day flat from 10 k to 1 M (ratio ≈ 1)")
report("load average at the end: \(loadAverage())")
await postgres.stop()
