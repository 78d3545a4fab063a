import BenchmarkSupport
import Foundation
import KappaCore
import KappaPostgres
import KappaTestSupport

// Stage "endtoend": the load of issue 17, live. `devices` publishers (`mosquitto_pub -q 1 -l`, one per device)
// each send `readingsPerDevice` JSON readings (`{"ts":…,"v":i}`, a second apart) as fast as the broker takes
// them. A plain `mosquitto_sub` takes the load first; then `kappa run` with every processor, on a fresh
// database and data directory, takes the same load. From the first publish, kappa's intake ends when its bridge
// has every message; end to end ends when every reading is counted in `kappa.rollups_1m`. Both are printed as a
// ratio to the mosquitto_sub of the same round, with the CPU time kappa (by thread) and PostgreSQL spent
// from the first publish until every processor had committed everything, per million readings.

/// One JSON reading per line, one file per device, published with `mosquitto_pub -l`.
struct FleetLoad {
    let prefix: String
    let devices: Int
    let readingsPerDevice: Int
    let directory: String

    var total: Int { devices * readingsPerDevice }
    var subscription: String { "\(prefix)/devices/+/telemetry" }

    static func write(prefix: String, devices: Int, readingsPerDevice: Int, directory: String) throws -> FleetLoad {
        let load = FleetLoad(prefix: prefix, devices: devices, readingsPerDevice: readingsPerDevice, directory: directory)
        // Event times a second apart, ending now: every reading is inside the archive's retention.
        let nowMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        let start = (nowMilliseconds - Int64(readingsPerDevice) * 1000) / 60_000 * 60_000
        for device in 0..<devices {
            var text = ""
            text.reserveCapacity(readingsPerDevice * 32)
            for index in 0..<readingsPerDevice {
                text += "{\"ts\":\(start + Int64(index) * 1000),\"v\":\(index)}\n"
            }
            try text.write(toFile: load.file(device), atomically: false, encoding: .utf8)
        }
        return load
    }

    func file(_ device: Int) -> String { "\(directory)/fleet-\(device).jsonl" }

    /// Starts every publisher at once.
    func startPublishing(broker: MosquittoBroker) throws -> [KappaProcess] {
        try (0..<devices).map { device in
            try KappaProcess(executablePath: "/bin/sh", arguments: [
                "-c", "exec /usr/bin/mosquitto_pub -p \(broker.port) -q 1 -l -i e2e-pub-\(device)-\(UInt32.random(in: 0...UInt32.max)) -t \(prefix)/devices/e2e-\(device)/telemetry < \(file(device))",
            ], outputFile: "\(directory)/publisher-\(device).log")
        }
    }

    static func waitForPublishers(_ publishers: [KappaProcess]) async {
        for publisher in publishers {
            guard await publisher.waitForExit(timeout: .seconds(600)) == 0 else { fatalError("mosquitto_pub failed:\n\(publisher.output.suffix(500))") }
        }
    }
}

/// What one kappa build did with the load.
struct EndToEndRun {
    var intakeSeconds: Double
    var endToEndSeconds: Double
    var allCommittedSeconds: Double
    var kappaCPU: CPUTimes
    var postgresCPU: Double
    var statements: [String]
}

/// A plain `mosquitto_sub` taking the whole load: seconds from the first publish to the last message, and the CPU
/// seconds it spent (libmosquitto's own cost of receiving the load, the floor under kappa's bridge thread).
func plainSubscriber(load: FleetLoad, broker: MosquittoBroker, directory: String) async throws -> (seconds: Double, cpuSeconds: Double?) {
    // Run under a shell that prints its children's CPU time (`times`) once mosquitto_sub has exited: the process is
    // reaped by Foundation as it exits, so sampling its /proc entry could miss its last moments.
    let outputFile = "\(directory)/e2e-mosquitto_sub.out"
    let subscriber = try KappaProcess(executablePath: "/bin/sh", arguments: [
        "-c", "/usr/bin/mosquitto_sub \"$@\"; status=$?; times >&2; exit $status", "sh",
        "-p", "\(broker.port)", "-q", "1", "-i", "e2e-sub-\(UInt32.random(in: 0...UInt32.max))", "-t", load.subscription, "-C", "\(load.total)",
    ], outputFile: outputFile)
    // mosquitto_sub says nothing when subscribed; half a second is plenty on loopback, and it is not timed.
    try await Task.sleep(for: .milliseconds(500))
    let started = ContinuousClock.now
    let publishers = try load.startPublishing(broker: broker)
    guard await subscriber.waitForExit(timeout: .seconds(600)) == 0 else { fatalError("mosquitto_sub (end to end) failed") }
    let elapsed = seconds(ContinuousClock.now - started)
    await FleetLoad.waitForPublishers(publishers)
    return (elapsed, shellChildrenCPUSeconds(subscriber.output))
}

/// The children's user and system seconds from the last line of a POSIX shell's `times` ("0m1.230000s 0m0.450000s").
func shellChildrenCPUSeconds(_ output: String) -> Double? {
    guard let line = output.split(separator: "\n").last else { return nil }
    let seconds = line.split(separator: " ").compactMap { field -> Double? in
        guard field.hasSuffix("s"), let minuteMark = field.firstIndex(of: "m"), let minutes = Double(field[..<minuteMark]),
              let rest = Double(field[field.index(after: minuteMark)...].dropLast()) else { return nil }
        return minutes * 60 + rest
    }
    return seconds.count == 2 ? seconds[0] + seconds[1] : nil
}

/// Turns on pg_stat_statements for the benchmark's cluster (a restart loads it); false where it is not installed.
func enableStatementStatistics(postgres: PostgresServer, database: PostgresTestDatabase) async -> Bool {
    guard let connection = try? await database.connect() else { return false }
    let altered = (try? await connection.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")) != nil
    await connection.close()
    guard altered else { return false }
    await postgres.stop()
    do { try await postgres.start() } catch { fatalError("PostgreSQL did not restart with pg_stat_statements: \(error)") }
    return true
}

/// Seconds from the first publish until the bridge had every message. Each scrape of /metrics costs kappa CPU (its
/// HTTP threads render every metric), which on 2 cores slows the intake being timed: at 20 ms that was 0.2–0.8
/// CPU-s per million readings. A build that reports when it read its latest message
/// (`kappa_mqtt_last_message_received_seconds`) is scraped every 250 ms until 90 % of the load is in and every
/// 20 ms after, so the end-to-end polling still starts within 20 ms of the intake's end, and its intake time is
/// that timestamp: exact, not rounded up to the next scrape. An older build is scraped every 20 ms throughout and
/// timed at the scrape that saw every message, as before.
func waitForIntake(_ gateway: Gateway, total: Int, started: ContinuousClock.Instant, startedWallClock: Double) async throws -> Double {
    let lastMessageGauge = "kappa_mqtt_last_message_received_seconds"
    var samples = await gateway.metrics()
    let reportsLastMessage = !samples.values(lastMessageGauge).isEmpty
    while samples.total("kappa_mqtt_messages_total") < Double(total) {
        let nearlyDone = samples.total("kappa_mqtt_messages_total") >= 0.9 * Double(total)
        try await Task.sleep(for: .milliseconds(reportsLastMessage && !nearlyDone ? 250 : 20))
        samples = await gateway.metrics()
    }
    guard reportsLastMessage, let lastMessage = samples.values(lastMessageGauge).first?.value, lastMessage > startedWallClock else {
        return seconds(ContinuousClock.now - started)
    }
    return lastMessage - startedWallClock
}

/// kappa `executable` taking the load, every processor on, from a fresh database and data directory.
func kappaEndToEnd(executable: String?, label: String, load: FleetLoad, broker: MosquittoBroker, postgres: PostgresServer,
                   statementStatistics: Bool, directory: String) async throws -> EndToEndRun {
    let database = try await postgres.makeDatabase(prefix: "e2e")
    let runDirectory = try TemporaryDirectory.make(prefix: "kappa-bench-e2e")
    let clientID = "e2e-\(label)-\(UInt32.random(in: 0...UInt32.max))"
    let gateway = try await Gateway.start(broker: broker, database: database, directory: runDirectory,
                                          clientID: clientID, prefix: load.prefix, executable: executable)
    await gateway.waitUntilConnected()
    let connection = try await database.connect()
    var statementStatistics = statementStatistics
    if statementStatistics {
        statementStatistics = (try? await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")) != nil
        _ = try? await connection.query("SELECT pg_stat_statements_reset()")
    }
    guard let postgresPort = await postgres.port else { fatalError("PostgreSQL has no port") }
    let kappaBefore = CPUTimes.of(pid: gateway.process.pid)
    let postgresBefore = CPUTimes.ofPostgres(port: postgresPort)

    let started = ContinuousClock.now
    let startedWallClock = Date().timeIntervalSince1970
    let publishers = try load.startPublishing(broker: broker)
    let intakeSeconds = try await waitForIntake(gateway, total: load.total, started: started, startedWallClock: startedWallClock)
    while try await connection.query("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m").first?[0].int64 ?? 0 < Int64(load.total) {
        try await Task.sleep(for: .milliseconds(20))
    }
    let endToEndSeconds = seconds(ContinuousClock.now - started)
    while await gateway.metrics().total("kappa_processor_lag_records") > 0 {
        try await Task.sleep(for: .milliseconds(20))
    }
    let allCommittedSeconds = seconds(ContinuousClock.now - started)
    let kappaCPU = CPUTimes.of(pid: gateway.process.pid).since(kappaBefore)
    let postgresCPU = CPUTimes.ofPostgres(port: postgresPort) - postgresBefore
    await FleetLoad.waitForPublishers(publishers)

    var statements: [String] = []
    if statementStatistics {
        let rows = try await connection.query("""
            SELECT calls, total_exec_time, rows, regexp_replace(left(query, 90), '\\s+', ' ', 'g')
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time DESC LIMIT 8
            """)
        for row in rows {
            statements.append(String(format: "%8.0f ms %7lld calls %9lld rows  ", try row[1].double, try row[0].int64, try row[2].int64) + (try row[3].string))
        }
    }
    await connection.close()
    await gateway.stop()
    // kappa's session is persistent: left on the shared broker it would queue every later round's messages for a
    // client that never returns, work that lands on whichever kappa runs after it (a clean connection ends it).
    let port = broker.port, topic = "\(load.prefix)/session-end"
    try await Blocking.run { try run("/usr/bin/mosquitto_sub", ["-p", "\(port)", "-i", clientID, "-t", topic, "-E"], discardOutput: true) }
    return EndToEndRun(intakeSeconds: intakeSeconds, endToEndSeconds: endToEndSeconds, allCommittedSeconds: allCommittedSeconds,
                       kappaCPU: kappaCPU, postgresCPU: postgresCPU, statements: statements)
}

/// The stage: `rounds` rounds of mosquitto_sub then each kappa build (their order alternating between rounds).
func measureEndToEnd(broker: MosquittoBroker, postgres: PostgresServer, directory: String, devices: Int, readingsPerDevice: Int,
                     rounds: Int, baseline: String?) async throws {
    let load = try FleetLoad.write(prefix: "e2e", devices: devices, readingsPerDevice: readingsPerDevice, directory: directory)
    let statisticsDatabase = try await postgres.makeDatabase(prefix: "e2e-setup")
    let statementStatistics = await enableStatementStatistics(postgres: postgres, database: statisticsDatabase)
    var loadAverage: String { ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ") }
    print("end to end: \(devices) devices × \(readingsPerDevice) JSON readings, mosquitto_pub -q 1 -l each; first publish → every reading in kappa.rollups_1m, all processors")
    var builds: [(label: String, executable: String?)] = [("this build", nil)]
    if let baseline { builds.append(("baseline \(baseline)", baseline)) }
    var ratios: [String: [(intake: Double, endToEnd: Double, kappaCPU: Double, postgresCPU: Double)]] = [:]
    var subscriberCPU: [Double] = []
    for round in 1...rounds {
        let (subSeconds, subCPU) = try await plainSubscriber(load: load, broker: broker, directory: directory)
        let millions = Double(load.total) / 1e6
        print(String(format: "round %d (load average %@): mosquitto_sub %.2f s, %.0f readings/s, %@ CPU-s per million readings", round, loadAverage,
                     subSeconds, Double(load.total) / subSeconds, subCPU.map { String(format: "%.2f", $0 / millions) } ?? "?"))
        if let subCPU { subscriberCPU.append(subCPU / millions) }
        for build in round % 2 == 1 ? builds : builds.reversed() {
            let run = try await kappaEndToEnd(executable: build.executable, label: build.label == "this build" ? "this" : "baseline", load: load, broker: broker,
                                              postgres: postgres, statementStatistics: statementStatistics, directory: directory)
            let threads = run.kappaCPU.threads.filter { $0.value / millions >= 0.1 }.sorted { $0.value > $1.value }
                .map { String(format: "%@ %.1f", $0.key, $0.value / millions) }.joined(separator: ", ")
            let exited = run.kappaCPU.process - run.kappaCPU.threads.values.reduce(0, +)
            print(String(format: "  %@: intake %.2f× (%.2f s), end to end %.2f× (%.2f s), every processor committed at %.2f s", build.label,
                         subSeconds / run.intakeSeconds, run.intakeSeconds, subSeconds / run.endToEndSeconds, run.endToEndSeconds, run.allCommittedSeconds))
            print(String(format: "    CPU-seconds per million readings: kappa %.2f (%@%@), PostgreSQL %.2f", run.kappaCPU.process / millions, threads,
                         exited / millions >= 0.1 ? String(format: ", exited threads %.1f", exited / millions) : "", run.postgresCPU / millions))
            for statement in run.statements { print("    " + statement) }
            ratios[build.label, default: []].append((subSeconds / run.intakeSeconds, subSeconds / run.endToEndSeconds,
                                                      run.kappaCPU.process / millions, run.postgresCPU / millions))
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    for build in builds {
        let runs = ratios[build.label] ?? []
        print(String(format: "%@, median of %d: intake %.2f× mosquitto_sub, end to end %.2f× (goal ≥ 0.9); CPU-s per million readings: kappa %.2f (goal ≤ 1), PostgreSQL %.2f",
                     build.label, runs.count, median(runs.map(\.intake)), median(runs.map(\.endToEnd)), median(runs.map(\.kappaCPU)), median(runs.map(\.postgresCPU))))
    }
    if !subscriberCPU.isEmpty, let kappaCPU = ratios["this build"]?.map(\.kappaCPU), !kappaCPU.isEmpty {
        print(String(format: "mosquitto_sub alone, median of %d: %.2f CPU-s per million readings; this build's kappa %.2f× that",
                     subscriberCPU.count, median(subscriberCPU), median(kappaCPU) / median(subscriberCPU)))
    }
}
