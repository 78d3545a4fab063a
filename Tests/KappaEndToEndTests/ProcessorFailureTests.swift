import Foundation
import KappaCore
import KappaMQTT
import KappaPostgres
import KappaTestSupport
import Logging
import Testing

/// A processor that stops on an error retrying cannot cure takes nothing else down with it.
@Suite("kappa run: one processor failing", .serialized, .timeLimit(.minutes(5)))
struct ProcessorFailureTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })

    func publish(_ gateway: GatewayUnderTest, first: Int, count: Int) async throws {
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }
        let origin = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 600) * 1000
        for index in first..<(first + count) {
            try publisher.publish(topic: "\(gateway.topicPrefix)/devices/d\(index % 4)/telemetry",
                                  payload: Array(#"{"ts":\#(origin + Int64(index) * 1000),"level":\#(index)}"#.utf8), qos: .atLeastOnce)
        }
        try await publisher.publishAndWait(topic: "\(gateway.topicPrefix)/devices/d0/telemetry", payload: Array(#"{"ts":\#(origin - 1000),"level":\#(first)}"#.utf8))
    }

    @Test("a corrupt anomaly snapshot stops that processor only: intake and the other processors go on, /readyz says why")
    func corruptSnapshotStopsOnlyItsProcessor() async throws {
        try await GatewayUnderTest.withFresh(name: "failure") { gateway in
            var process = try await gateway.start()
            try await publish(gateway, first: 0, count: 100)
            // Processed for real (a lag of 0 is also what /metrics says before the processors report at all),
            // and the anomaly processor has checkpointed its state.
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                let rolledUp = try await gateway.scalar("SELECT sum(count)::bigint FROM kappa.rollups_1m")
                let snapshots = try await gateway.scalar("SELECT count(*) FROM kappa.anomaly_state_v1")
                return rolledUp == 101 && snapshots > 0
            })
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
            let corrupted = try await gateway.withDatabase { try await $0.execute("UPDATE kappa.anomaly_state_v1 SET snapshot = '\\x00'::bytea") }
            try #require(corrupted > 0, "no anomaly snapshot to corrupt")

            process = try await gateway.start()
            try await publish(gateway, first: 100, count: 100)
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                try await gateway.metrics().total("kappa_processor_failed", matching: ["processor": "anomalies"]) == 1
            }, "\(process.output.suffix(2000))")
            #expect(process.isRunning, "kappa run should keep running:\n\(process.output.suffix(2000))")
            let rolledUp = await gateway.eventually(timeout: .seconds(60)) {
                try await gateway.scalar("SELECT sum(count)::bigint FROM kappa.rollups_1m") == 202
            }
            let rolledUpCount = (try? await gateway.scalar("SELECT sum(count)::bigint FROM kappa.rollups_1m")).map(String.init) ?? "?"
            #expect(rolledUp, "rollups hold \(rolledUpCount) readings:\n\(process.output.suffix(3000))")
            let metrics = try await gateway.metrics()
            #expect(metrics.total("kappa_readings_appended_total") == 101)
            #expect(metrics.total("kappa_processor_failed", matching: ["processor": "rollups"]) == 0)
            let readiness = try await HTTPProbe.get("\(gateway.baseURL)/readyz")
            #expect(readiness.status == 503 && readiness.body.contains("processor anomalies stopped"), "\(readiness.body)")
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0, "\(process.output.suffix(2000))")
        }
    }
}
