import Foundation
import KappaCore
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// The processors run at a lower CPU priority than intake, so on a busy machine the bridge keeps taking
/// messages and the processors catch up from the log.
@Suite("kappa run: processors give way to intake", .serialized, .timeLimit(.minutes(5)))
struct ProcessorPriorityTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Name and nice value of every thread of `pid`, from /proc.
    static func threads(of pid: Int32) -> [(name: String, nice: Int)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm) ": state is field 3, nice is field 19.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
            return (String(stat[stat.index(after: open)..<close]), nice)
        }
    }

    func runAndSample(_ gateway: GatewayUnderTest, extraArguments: [String]) async throws -> [(name: String, nice: Int)] {
        let process = try await gateway.start(extraArguments: extraArguments)
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }
        let origin = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 600) * 1000
        for index in 0..<500 {
            try publisher.publish(topic: "\(gateway.topicPrefix)/devices/d\(index % 5)/telemetry",
                                  payload: Array(#"{"ts":\#(origin + Int64(index) * 1000),"level":\#(index)}"#.utf8), qos: .atLeastOnce)
        }
        try await publisher.publishAndWait(topic: "\(gateway.topicPrefix)/devices/last/telemetry", payload: Array(#"{"level":1}"#.utf8))
        // Generous: on a loaded CI machine the first checkpoints can take a while; only the threads are checked.
        let processed = await gateway.eventually(timeout: .seconds(90)) {
            let metrics = try await gateway.metrics()
            return metrics.total("kappa_readings_appended_total") >= 501 && metrics.total("kappa_processor_lag_records") == 0
                && metrics.total("kappa_processor_checkpoints_total", matching: ["processor": "rollups"]) >= 1
        }
        let body = (try? await HTTPProbe.get("\(gateway.baseURL)/metrics").body) ?? ""
        #expect(processed, "the processors did not catch up:\n\(body.split(separator: "\n").filter { $0.hasPrefix("kappa_processor_lag") || $0.hasPrefix("kappa_readings") }.joined(separator: "\n"))\n\(process.output.suffix(2000))")
        let threads = Self.threads(of: process.pid)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
        return threads
    }

    @Test("by default the processors' threads run at nice 10 and the MQTT network thread at 0")
    func processorsAreNiced() async throws {
        try await GatewayUnderTest.withFresh(name: "nice") { gateway in
            let threads = try await runAndSample(gateway, extraArguments: [])
            let network = threads.filter { $0.name == "mqtt-network" }
            #expect(!network.isEmpty, "no thread named mqtt-network: \(threads)")
            #expect(network.allSatisfy { $0.nice == 0 }, "\(threads)")
            #expect(threads.contains { $0.nice == 10 }, "no processor thread at nice 10: \(threads)")
        }
    }

    @Test("--processor-nice 0 leaves the processors' threads alone")
    func niceZeroLeavesPriorities() async throws {
        try await GatewayUnderTest.withFresh(name: "nice0") { gateway in
            let threads = try await runAndSample(gateway, extraArguments: ["--processor-nice", "0"])
            // (Dispatch itself gives some of its threads other nice values, by quality of service.)
            #expect(!threads.isEmpty)
            #expect(!threads.contains { $0.nice == 10 }, "\(threads)")
        }
    }
}
