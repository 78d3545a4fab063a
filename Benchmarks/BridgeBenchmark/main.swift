// Bridge throughput beside a plain `mosquitto_sub`, draining the same QoS 1 backlog from the same broker.
//
// Both consumers get the same treatment: a persistent session is created, N messages are published into it
// while the consumer is away, then the consumer comes back and the time to take in all N is measured. So
// the figure is the consumer's own rate, not the publisher's. mosquitto_sub writes each payload to
// /dev/null; the bridge decodes it, appends its readings to the log (fsync=interval) and acknowledges.
//
//   swift run -c release BridgeBenchmark [messages]
import BenchmarkSupport
import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging

let messageCount = CommandLine.arguments.dropFirst().compactMap { Int($0) }.first ?? 100_000
let metricsPerMessage = 4
let logger: Logger = {
    var logger = Logger(label: "kappa.bench.bridge")
    logger.logLevel = .warning
    return logger
}()

func publishBacklog(_ broker: MosquittoBroker, prefix: String) async throws {
    let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port, maxInflightMessages: 1_000), logger: logger)
    try publisher.start()
    try await publisher.waitUntilConnected()
    let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000
    for index in 0..<messageCount {
        let payload = #"{"ts": \#(start + Int64(index)), "temperature": 21.5, "humidity": 40.25, "co2": 415, "seq": \#(index)}"#
        try publisher.publish(topic: "\(prefix)/devices/d\(index % 1000)/telemetry", payload: Array(payload.utf8), qos: .atLeastOnce)
        if index % 5_000 == 0 { try await Task.sleep(for: .milliseconds(1)) }
    }
    try await publisher.publishAndWait(topic: "\(prefix)/done", payload: [], qos: .atLeastOnce)
    publisher.disconnect()
}

func mosquittoSubRate(_ broker: MosquittoBroker) async throws -> Double {
    let prefix = "bench-sub"
    let arguments = ["-p", "\(broker.port)", "-q", "1", "-c", "-i", "bench-mosquitto-sub", "-t", "\(prefix)/devices/+/+"]
    try run("/usr/bin/mosquitto_sub", arguments + ["-W", "1"], allowFailure: true, discardOutput: true)  // creates the session
    try await publishBacklog(broker, prefix: prefix)
    let started = ContinuousClock.now
    try run("/usr/bin/mosquitto_sub", arguments + ["-C", "\(messageCount)"], discardOutput: true)
    return Double(messageCount) / seconds(ContinuousClock.now - started)
}

func bridgeRate(_ broker: MosquittoBroker) async throws -> Double {
    let prefix = "bench-bridge"
    let directory = try TemporaryDirectory.make(prefix: "kappa-bench-bridge")
    let log = try DiskLog(directory: directory, logger: logger)
    defer { log.close() }
    let readings = try log.createStream(named: KappaStreams.readings, partitionCount: KappaStreams.defaultReadingPartitions)
    let deadLetters = try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
    let configuration = BridgeConfiguration(
        mqtt: MQTTConfiguration(port: broker.port, clientID: "bench-bridge", cleanSession: false),
        routes: [try TopicRoute("\(prefix)/devices/{device}/telemetry", format: .json)]
    )
    func makeBridge() throws -> MQTTBridge {
        try MQTTBridge.make(configuration: configuration, readings: readings, deadLetters: deadLetters, logger: logger)
    }
    let first = try makeBridge()
    let firstRun = Task { try await first.run() }
    try await first.waitUntilConnected()
    try await Task.sleep(for: .milliseconds(300))
    firstRun.cancel()
    try await firstRun.value

    try await publishBacklog(broker, prefix: prefix)
    let bridge = try makeBridge()
    let started = ContinuousClock.now
    let running = Task { try await bridge.run() }
    while bridge.statistics.snapshot.messages < messageCount {
        try await Task.sleep(for: .milliseconds(1))
    }
    let elapsed = ContinuousClock.now - started
    running.cancel()
    try await running.value
    let stats = bridge.statistics.snapshot
    guard stats.readings == messageCount * metricsPerMessage, stats.deadLetters == 0 else {
        fatalError("the bridge took in \(stats.readings) readings and \(stats.deadLetters) dead letters; expected \(messageCount * metricsPerMessage) and 0")
    }
    return Double(messageCount) / seconds(elapsed)
}


/// The bridge's own work per message (route, decode, append), without MQTT: the ceiling of its intake.
func ingestOnlyRate() throws -> Double {
    let directory = try TemporaryDirectory.make(prefix: "kappa-bench-ingest")
    let log = try DiskLog(directory: directory, logger: logger)
    defer { log.close() }
    let ingestor = MessageIngestor(
        router: TopicRouter(routes: [try TopicRoute("bench/devices/{device}/telemetry", format: .json)]),
        decoder: PayloadDecoder(),
        readings: try log.createStream(named: KappaStreams.readings, partitionCount: KappaStreams.defaultReadingPartitions),
        deadLetters: try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1),
        statistics: BridgeStatistics(routeCount: 1)
    )
    let start = Timestamp.now()
    let messages = (0..<1_000).map { index in
        (topic: "bench/devices/d\(index)/telemetry",
         payload: Array(#"{"ts": \#(start.nanosecondsSinceEpoch / 1_000_000 + Int64(index)), "temperature": 21.5, "humidity": 40.25, "co2": 415, "seq": \#(index)}"#.utf8))
    }
    let began = ContinuousClock.now
    for index in 0..<messageCount {
        let message = messages[index % messages.count]
        try ingestor.ingest(topic: message.topic, payload: message.payload, receivedAt: start)
    }
    return Double(messageCount) / seconds(ContinuousClock.now - began)
}

if CommandLine.arguments.contains("--ingest-only") {
    print(String(format: "ingest alone (route + decode + append, no MQTT): %.0f msg/s", try ingestOnlyRate()))
    exit(0)
}

let broker = try await MosquittoBroker.start(options: .init(maxQueuedMessages: messageCount + 10))
defer { broker.stop() }
print("Bridge benchmark: \(messageCount) QoS 1 messages (\(metricsPerMessage) readings each) drained from a persistent session")
var subRates: [Double] = []
var bridgeRates: [Double] = []
for round in 1...2 {
    FileHandle.standardError.write(Data("  round \(round): mosquitto_sub…\n".utf8))
    subRates.append(try await mosquittoSubRate(broker))
    FileHandle.standardError.write(Data("  round \(round): kappa bridge…\n".utf8))
    bridgeRates.append(try await bridgeRate(broker))
    print(String(format: "  round %d: mosquitto_sub %.0f msg/s, kappa bridge %.0f msg/s", round, subRates.last!, bridgeRates.last!))
}
let ingestOnly = try ingestOnlyRate()
print(String(format: "  ingest alone (route + decode + append, no MQTT): %.0f msg/s", ingestOnly))
let sub = subRates.max()!
let bridge = bridgeRates.max()!
print(String(format: "mosquitto_sub:  %10.0f messages/s", sub))
print(String(format: "kappa bridge:   %10.0f messages/s  (%10.0f readings/s into the log)", bridge, bridge * Double(metricsPerMessage)))
print(String(format: "ratio bridge / mosquitto_sub: %.2f  (goal ≥ 0.9)", bridge / sub))
