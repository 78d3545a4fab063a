// kappa-sim's publish rate beside `mosquitto_pub -l` on the same payloads, to a private local mosquitto.
//
//   swift run -c release SimulatorBenchmark [messages]
//
// For each QoS: mosquitto_pub reads the payloads one per line from a file and publishes each (timed from
// process start to exit); kappa-sim's publisher sends the same payloads on the same topic (timed from the
// first publish until the last acknowledgement); and the whole simulator (generating the fleet on the fly,
// one topic per device) is timed the same way.
import Foundation
import KappaCore
import KappaMQTT
import KappaSimulator
import KappaTestSupport
import Logging

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 200_000
let logger = Logger(label: "kappa.benchmark.simulator")
let broker = try await MosquittoBroker.start()
defer { broker.stop() }

let scenario = FleetScenario(seed: 1, deviceCount: 1_000, start: Timestamp(secondsSinceEpoch: 1_795_564_800), format: .json)
let generated = Fleet.generate(scenario, limit: count).messages
let topic = "bench/devices/env-00000/telemetry"
let linesPath = try TemporaryDirectory.make(prefix: "kappa-sim-bench") + "/payloads.txt"
var lines: [UInt8] = []
for message in generated {
    lines += message.payload
    lines.append(UInt8(ascii: "\n"))
}
try Data(lines).write(to: URL(fileURLWithPath: linesPath))

func mosquittoPub(qos: Int) throws -> Double {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
    process.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "\(qos)", "-t", topic, "-l"]
    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: linesPath))
    let started = ContinuousClock.now
    try process.run()
    process.waitUntilExit()
    precondition(process.terminationStatus == 0, "mosquitto_pub failed")
    return seconds(ContinuousClock.now - started)
}

func kappaSim<Source: MessageSource>(_ source: Source, qos: MQTTQoS) async throws -> (seconds: Double, acknowledged: Int) {
    let statistics = RunStatistics()
    let publisher = MQTTFleetPublisher(
        options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port, maxInflightMessages: 1_000), qos: qos, window: 1_000),
        statistics: statistics, logger: logger
    )
    try await publisher.connect()
    var run = SimulationRun(source: source, pacing: .fast, limit: count, batchSize: 1_000)
    let started = ContinuousClock.now
    try await run.run(publisher: publisher, labels: nil)
    return (seconds(ContinuousClock.now - started), statistics.acknowledged)
}

/// The generated payloads again, all on one topic, without generating anything.
struct Prepared: MessageSource {
    var messages: [SimulatedMessage]
    var position = 0
    var startTime: Timestamp { scenario.start }

    mutating func next() -> SimulatedMessage? {
        guard position < messages.count else { return nil }
        defer { position += 1 }
        return messages[position]
    }

    mutating func finish() -> [GroundTruthLabel] { [] }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func rate(_ seconds: Double) -> String { "\(Int((Double(count) / seconds).rounded())) msg/s" }

let sameTopic = generated.map { message in
    var copy = message
    copy.topic = topic
    return copy
}
print("\(count) messages, \(lines.count / count) bytes each on average, local mosquitto on port \(broker.port)")
for qos in [MQTTQoS.atMostOnce, .atLeastOnce] {
    let pub = try mosquittoPub(qos: Int(qos.rawValue))
    let prepared = try await kappaSim(Prepared(messages: sameTopic), qos: qos)
    let live = try await kappaSim(Fleet(scenario), qos: qos)
    print("QoS \(qos.rawValue): mosquitto_pub -l \(rate(pub))")
    print("       kappa-sim publisher, same payloads  \(rate(prepared.seconds))  ratio \(String(format: "%.2f", pub / prepared.seconds))  (\(prepared.acknowledged) acknowledged)")
    print("       kappa-sim generating the fleet      \(rate(live.seconds))  ratio \(String(format: "%.2f", pub / live.seconds))  (\(live.acknowledged) acknowledged)")
}
