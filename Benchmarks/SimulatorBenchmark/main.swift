// kappa-sim's publish rate beside `mosquitto_pub -l` on the same payloads, to a private local mosquitto.
//
//   swift build -c release --product SimulatorBenchmark && .build/release/SimulatorBenchmark [messages]
//
// For each QoS: mosquitto_pub reads the payloads one per line from a file and publishes each, timed from
// process start to exit; kappa-sim's publisher sends the same payloads on the same topic, timed from before
// it connects until every message is acknowledged and the connection is closed; and the whole simulator
// (generating the fleet on the fly, one topic per device) is timed the same way. A subscriber counts what the
// broker delivered in every run, so a figure that did not deliver everything shows it.
//
// Fairness (mosquitto 2.0.11, client/pub_client.c): with -l, mosquitto_pub queues every line with
// mosquitto_publish and disconnects in its publish callback once the acknowledgement carrying the last
// line's message id arrives, so at QoS 1 and 2 it waits for every acknowledgement, with at most 20 messages
// in flight (-M, client_shared.c). Message ids wrap at 65 535, so with more lines it quits at the first
// acknowledgement reusing the last id and the rest are never sent (100 000 lines at QoS 1 delivered 34 480).
// It is therefore run on chunks of at most 60 000 lines, one process after another, and its time summed.
import Foundation
import BenchmarkSupport
import KappaCore
import KappaMQTT
import KappaSimulator
import KappaTestSupport
import Logging
import Synchronization

let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 200_000
let linesPerProcess = 60_000
let logger = Logger(label: "kappa.benchmark.simulator")
let broker = try await MosquittoBroker.start()
defer { broker.stop() }

let scenario = FleetScenario(seed: 1, deviceCount: 1_000, start: Timestamp(secondsSinceEpoch: 1_795_564_800), format: .json, topicPrefix: "bench")
let generated = Fleet.generate(scenario, limit: count).messages
let topic = "bench/devices/env-00000/telemetry"
let directory = try TemporaryDirectory.make(prefix: "kappa-sim-bench")
let chunkPaths = try stride(from: 0, to: generated.count, by: linesPerProcess).enumerated().map { index, start in
    var lines: [UInt8] = []
    for message in generated[start..<min(start + linesPerProcess, generated.count)] {
        lines += message.payload
        lines.append(UInt8(ascii: "\n"))
    }
    let path = "\(directory)/payloads-\(index).txt"
    try Data(lines).write(to: URL(fileURLWithPath: path))
    return path
}

final class Tally: Sendable {
    let value = Atomic(0)
}

/// Counts what the broker delivers under bench/.
final class DeliveryCounter: Sendable {
    private let tally = Tally()
    let client: MQTTClient

    init() async throws {
        let tally = self.tally
        client = try MQTTClient.make(configuration: MQTTConfiguration(host: "127.0.0.1", port: broker.port), logger: logger) { _ in
            tally.value.add(1, ordering: .relaxed)
        }
        try client.start()
        try await client.waitUntilConnected()
        try await client.subscribe([MQTTSubscription("bench/#", qos: .atMostOnce)])
    }

    func reset() { tally.value.store(0, ordering: .relaxed) }

    /// Waits until `expected` arrived or nothing more came for a second; returns the count.
    func settle(expected: Int) async -> Int {
        var last = -1
        var quietSince = ContinuousClock.now
        while true {
            let now = tally.value.load(ordering: .relaxed)
            if now >= expected { return now }
            if now != last {
                last = now
                quietSince = .now
            } else if ContinuousClock.now - quietSince > .seconds(1) {
                return now
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

let counter = try await DeliveryCounter()

struct Measurement {
    var seconds: Double
    var delivered: Int
    var acknowledged: Int?
}

func mosquittoPub(qos: MQTTQoS, maxInflight: Int?) async throws -> Measurement {
    counter.reset()
    var total = 0.0
    for path in chunkPaths {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_pub")
        process.arguments = ["-h", "127.0.0.1", "-p", "\(broker.port)", "-q", "\(qos.rawValue)", "-t", topic, "-l"]
            + (maxInflight.map { ["-M", "\($0)"] } ?? [])
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        let started = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        total += seconds(ContinuousClock.now - started)
        precondition(process.terminationStatus == 0, "mosquitto_pub failed")
    }
    return Measurement(seconds: total, delivered: await counter.settle(expected: count))
}

func kappaSim<Source: MessageSource>(_ source: Source, qos: MQTTQoS, connections: Int = 1) async throws -> Measurement {
    counter.reset()
    let statistics = RunStatistics()
    let options = PublishOptions(
        mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port, maxInflightMessages: PublishOptions.libraryInflightLimit),
        qos: qos, connections: connections, window: 2_000
    )
    let publisher = MQTTFleetPublisher(options: options, statistics: statistics, logger: logger)
    let started = ContinuousClock.now
    try await publisher.connect()
    var run = SimulationRun(source: source, pacing: .fast, limit: count, batchSize: 1_000 * connections)
    try await run.run(publisher: publisher, labels: nil)
    let elapsed = seconds(ContinuousClock.now - started)
    return Measurement(seconds: elapsed, delivered: await counter.settle(expected: count), acknowledged: statistics.acknowledged)
}

/// The generated payloads again, all on one topic, without generating anything.
struct Prepared: MessageSource {
    var messages: [SimulatedMessage]
    var position = 0
    var startTime: Timestamp { messages.first?.sendTime ?? Timestamp(nanosecondsSinceEpoch: 0) }

    mutating func next() -> SimulatedMessage? {
        guard position < messages.count else { return nil }
        defer { position += 1 }
        return messages[position]
    }

    mutating func finish() -> [GroundTruthLabel] { [] }
}

func line(_ name: String, _ measurement: Measurement, comparator: Measurement? = nil) -> String {
    var text = name.padding(toLength: 40, withPad: " ", startingAt: 0)
    text += "\(Int((Double(count) / measurement.seconds).rounded())) msg/s".padding(toLength: 14, withPad: " ", startingAt: 0)
    if let comparator {
        text += "ratio \(String(format: "%.2f", comparator.seconds / measurement.seconds))  "
    }
    text += "(\(measurement.delivered) delivered"
    if let acknowledged = measurement.acknowledged { text += ", \(acknowledged) acknowledged" }
    return text + ")"
}

let sameTopic = generated.map { message in
    var copy = message
    copy.topic = topic
    return copy
}
print("\(count) messages, \(chunkPaths.count) mosquitto_pub processes, local mosquitto on port \(broker.port)")
print("kappa-sim: window 2000, libmosquitto in flight \(PublishOptions.libraryInflightLimit); ratio = kappa-sim rate / mosquitto_pub -l rate")
for qos in MQTTQoS.allCases {
    let pub = try await mosquittoPub(qos: qos, maxInflight: nil)
    print("QoS \(qos.rawValue):")
    print("  " + line("mosquitto_pub -l (-M 20, its default)", pub))
    var sameInflight: Measurement?
    if qos != .atMostOnce {
        sameInflight = try await mosquittoPub(qos: qos, maxInflight: PublishOptions.libraryInflightLimit)
        print("  " + line("mosquitto_pub -l -M \(PublishOptions.libraryInflightLimit)", sameInflight!))
    }
    let prepared = try await kappaSim(Prepared(messages: sameTopic), qos: qos)
    print("  " + line("kappa-sim publisher, same payloads", prepared, comparator: pub))
    if let sameInflight {
        print("  " + line("  against mosquitto_pub -M \(PublishOptions.libraryInflightLimit)", prepared, comparator: sameInflight))
    }
    let live = try await kappaSim(Fleet(scenario), qos: qos)
    print("  " + line("kappa-sim generating the fleet", live, comparator: pub))
    if qos == .atLeastOnce {
        let pooled = try await kappaSim(Fleet(scenario), qos: qos, connections: 4)
        print("  " + line("kappa-sim fleet, 4 connections", pooled, comparator: pub))
    }
}
counter.client.disconnect()
