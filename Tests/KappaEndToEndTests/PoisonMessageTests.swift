import Foundation
import KappaCore
import KappaMQTT
import KappaPostgres
import KappaTestSupport
import Logging
import Testing

/// Hostile messages through the real `kappa` binary between a real broker and a real PostgreSQL: each is one
/// dead letter with its reason, and every other device's readings are still processed.
@Suite("kappa run: poison messages", .serialized, .timeLimit(.minutes(3)))
struct PoisonMessageTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("names PostgreSQL cannot store, a 10 MB payload and a 16,000-number array are dead letters; nothing else stops")
    func poisonMessagesAreDeadLetteredAndProcessingGoesOn() async throws {
        try await GatewayUnderTest.withFresh(name: "poison", check)
    }

    private func check(_ gateway: GatewayUnderTest) async throws {
        let prefix = gateway.topicPrefix
        let process = try await gateway.start(extraArguments: ["--topic", "\(prefix)/lines/{device}=line_protocol"])
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }
        let ms = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 600) * 1000

        let poison: [(topic: String, payload: [UInt8], reason: String)] = [
            ("\(prefix)/devices/p1/telemetry", Array(#"{"ts": \#(ms), "bad\u0000key": 1}"#.utf8), "invalid_metric"),
            ("\(prefix)/lines/p2", Array("m,room=a".utf8) + [0] + Array("b v=1 \(ms)000000".utf8), "invalid_tag"),
            ("\(prefix)/devices/\(String(repeating: "x", count: 10_000))/telemetry", Array(#"{"ts": \#(ms), "t": 1}"#.utf8), "invalid_device"),
            ("\(prefix)/devices/p4/telemetry", Array(#"{"ts": \#(ms), "\#(String(repeating: "k", count: 3_000))": 1}"#.utf8), "invalid_metric"),
            ("\(prefix)/devices/p5/telemetry", [UInt8](repeating: UInt8(ascii: "7"), count: 10 << 20), "oversized_payload"),
            ("\(prefix)/devices/p6/telemetry", Array(("[" + (0..<16_000).map { String($0 % 10) }.joined(separator: ",") + "]").utf8), "unsupported_format"),
        ]
        // A good reading from another device before and after each poison message.
        var good = 0
        for item in poison {
            for _ in 0..<2 {
                try await publisher.publishAndWait(
                    topic: "\(prefix)/devices/good\(good % 3)/telemetry", payload: Array(#"{"ts": \#(ms + Int64(good) * 1000), "level": \#(good)}"#.utf8)
                )
                good += 1
            }
            try await publisher.publishAndWait(topic: item.topic, payload: item.payload)
        }
        try await publisher.publishAndWait(topic: "\(prefix)/lines/good9", payload: Array("m,room=b v=9 \(ms)000000".utf8))

        let rolledUp = "SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device LIKE 'good%'"
        #expect(await gateway.eventually(timeout: .seconds(30)) { try await gateway.scalar(rolledUp) == Int64(good + 1) },
                "every good reading is rolled up:\n\(process.output.suffix(2000))")
        #expect(await gateway.eventually(timeout: .seconds(30)) { try await gateway.scalar("SELECT count(*) FROM kappa.dead_letters") == Int64(poison.count) })
        let letters = try await gateway.withDatabase { connection in
            try await connection.query("SELECT reason, payload_size, octet_length(payload) AS stored, payload_sha256 IS NOT NULL AS digested FROM kappa.dead_letters ORDER BY received_at")
                .map { (try $0["reason"].string, try $0["payload_size"].int64, try $0["stored"].int64, try $0["digested"].bool) }
        }
        #expect(letters.map(\.0) == poison.map(\.reason))
        #expect(letters.map(\.1) == poison.map { Int64($0.payload.count) })
        #expect(letters.allSatisfy { $0.2 <= Int64(DeadLetter.payloadCap) })
        #expect(letters.map(\.3) == poison.map { $0.payload.count > DeadLetter.payloadCap })
        #expect(try await gateway.scalar("SELECT count(*) FROM kappa.readings WHERE device LIKE 'good%'") == Int64(good + 1))
        #expect(try await gateway.scalar("SELECT count(*) FROM kappa.devices WHERE device LIKE 'good%'") == 4)
        #expect(await gateway.eventually(timeout: .seconds(10)) { await gateway.readinessStatus() == 200 })
        let samples = try await gateway.metrics()
        #expect(samples.total("kappa_mqtt_connections_total") == 1, "intake never reconnected:\n\(process.output.suffix(2000))")
    }
}
