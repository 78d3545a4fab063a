// End to end, MQTT in → log: the MQTT bridge drains the same QoS 1 backlog from a persistent session into the
// embedded log, JetStream R1 and JetStream R3, beside `mosquitto_sub` draining it to /dev/null, in one run.
import BenchmarkSupport
import Foundation
import KappaCore
import KappaJetStream
import KappaLog
import KappaMQTT
import KappaTestSupport

let readingsPerMessage = 4

/// `count` QoS 1 messages of 4 readings each into `prefix`'s topics, while the consumer's session is away.
func publishBacklog(_ broker: MosquittoBroker, prefix: String, count: Int) async throws {
    let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port, maxInflightMessages: 1_000), logger: logger)
    try publisher.start()
    try await publisher.waitUntilConnected()
    let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000
    for index in 0..<count {
        let payload = #"{"ts": \#(start + Int64(index)), "temperature": 21.5, "humidity": 40.25, "co2": 415, "seq": \#(index)}"#
        try publisher.publish(topic: "\(prefix)/devices/d\(index % 1000)/telemetry", payload: Array(payload.utf8), qos: .atLeastOnce)
        if index % 5_000 == 0 { try await Task.sleep(for: .milliseconds(1)) }
    }
    try await publisher.publishAndWait(topic: "\(prefix)/done", payload: [], qos: .atLeastOnce)
    publisher.disconnect()
}

/// mosquitto_sub draining `count` messages from its persistent session; messages per second.
func mosquittoSubRate(_ broker: MosquittoBroker, count: Int, round: Int) async throws -> Double {
    let prefix = "bench-sub-\(round)"
    let arguments = ["-p", "\(broker.port)", "-q", "1", "-c", "-i", "bench-mosquitto-sub-\(round)", "-t", "\(prefix)/devices/+/+"]
    try run("/usr/bin/mosquitto_sub", arguments + ["-W", "1"], allowFailure: true, discardOutput: true)
    try await publishBacklog(broker, prefix: prefix, count: count)
    let started = ContinuousClock.now
    try run("/usr/bin/mosquitto_sub", arguments + ["-C", "\(count)"], discardOutput: true)
    return Double(count) / seconds(ContinuousClock.now - started)
}

/// What one bridge drain cost: its rate and the CPU seconds of this process and of the NATS servers.
struct DrainFigures {
    var messagesPerSecond: Double
    var clientCPU: Double
    var serverCPU: [Double]
}

/// The MQTT bridge draining `count` messages from its persistent session into `readings`.
func bridgeDrain(_ broker: MosquittoBroker, count: Int, name: String, readings: any LogStream, deadLetters: any LogStream, cluster: NATSCluster?) async throws -> DrainFigures {
    let prefix = "bench-\(name)"
    let configuration = BridgeConfiguration(
        mqtt: MQTTConfiguration(port: broker.port, clientID: "bench-\(name)", cleanSession: false),
        routes: [try TopicRoute("\(prefix)/devices/{device}/telemetry", format: .json)]
    )
    let first = try MQTTBridge.make(configuration: configuration, readings: readings, deadLetters: deadLetters, logger: logger)
    let firstRun = Task { try await first.run() }
    try await first.waitUntilSubscribed()
    firstRun.cancel()
    try await firstRun.value

    try await publishBacklog(broker, prefix: prefix, count: count)
    let bridge = try MQTTBridge.make(configuration: configuration, readings: readings, deadLetters: deadLetters, logger: logger)
    let nodes = cluster.map { cluster in cluster.clientPorts.indices.map { $0 } } ?? []
    let serversBefore = nodes.map { cluster?.cpuSeconds(node: $0) ?? 0 }
    let clientBefore = processCPUSeconds()
    let started = ContinuousClock.now
    let running = Task { try await bridge.run() }
    while bridge.statistics.snapshot.messages < count {
        try await Task.sleep(for: .milliseconds(1))
    }
    let elapsed = ContinuousClock.now - started
    let client = processCPUSeconds() - clientBefore
    let servers = zip(nodes, serversBefore).map { node, before in (cluster?.cpuSeconds(node: node) ?? before) - before }
    running.cancel()
    try await running.value
    let stats = bridge.statistics.snapshot
    guard stats.readings == count * readingsPerMessage, stats.deadLetters == 0 else {
        fatalError("\(name): the bridge took in \(stats.readings) readings and \(stats.deadLetters) dead letters; expected \(count * readingsPerMessage) and 0")
    }
    return DrainFigures(messagesPerSecond: Double(count) / seconds(elapsed), clientCPU: client, serverCPU: servers)
}

/// The end-to-end comparison: every log drains the same number of messages; mosquitto_sub before and after.
func endToEnd(messages count: Int, appendRates: [String: Double]) async throws {
    let broker = try await MosquittoBroker.start(options: .init(maxQueuedMessages: count * 2 + 10))
    defer { broker.stop() }
    print("End to end: \(count) QoS 1 messages of \(readingsPerMessage) readings drained from a persistent session (the same load for each)")
    var subRates = [try await mosquittoSubRate(broker, count: count, round: 1)]

    var results: [(name: String, figures: DrainFigures)] = []
    let directory = try TemporaryDirectory.make(prefix: "kappa-jetstream-benchmark-e2e")
    let disk = try DiskLog(directory: directory, logger: logger)
    results.append(("embedded", try await bridgeDrain(
        broker, count: count, name: "embedded",
        readings: try disk.createStream(named: KappaStreams.readings, partitionCount: partitionCount),
        deadLetters: try disk.createStream(named: KappaStreams.deadLetters, partitionCount: 1), cluster: nil
    )))
    disk.close()
    try? run("/bin/rm", ["-rf", directory])
    for (nodes, replicas) in [(1, 1), (3, 3)] {
        let cluster = try await NATSCluster.start(nodes: nodes)
        let log = try JetStreamLog.connect(configuration: JetStreamConfiguration(servers: cluster.urls, replicas: replicas), logger: logger)
        let (readings, deadLetters) = try await Blocking.run {
            (try log.createStream(named: KappaStreams.readings, partitionCount: partitionCount), try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1))
        }
        results.append(("JetStream R\(replicas)", try await bridgeDrain(broker, count: count, name: "r\(replicas)", readings: readings, deadLetters: deadLetters, cluster: cluster)))
        log.close()
        cluster.stop()
    }
    subRates.append(try await mosquittoSubRate(broker, count: count, round: 2))
    let sub = subRates.max()!
    print(String(format: "mosquitto_sub: %.0f messages/s (best of %.0f and %.0f, before and after)", sub, subRates[0], subRates[1]))
    for (name, figures) in results {
        var line = name + String(format: ": end to end %.0f messages/s = %.0f readings/s; ratio to mosquitto_sub %.2f", figures.messagesPerSecond,
                          figures.messagesPerSecond * Double(readingsPerMessage), figures.messagesPerSecond / sub)
        if let append = appendRates[name] {
            line += String(format: "; append alone %.0f records/s = %.2f × mosquitto_sub's message rate", append, append / sub)
        }
        print(line)
        let servers = figures.serverCPU.map { String(format: "%.2f", $0) }.joined(separator: " + ")
        let serverPart = figures.serverCPU.isEmpty ? "" : ", nats-server(s) \(servers) s"
        print("  CPU: this process (bridge + NATS client) " + String(format: "%.2f s", figures.clientCPU) + serverPart
              + String(format: " for %ld messages = %.1f µs per message", count, (figures.clientCPU + figures.serverCPU.reduce(0, +)) * 1e6 / Double(count)))
    }
}
