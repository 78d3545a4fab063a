import Foundation
import KappaCore
import KappaPostgres
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// PostgreSQL goes away under a running gateway and comes back.
@Suite("kappa run: PostgreSQL outage", .serialized, .timeLimit(.minutes(3)))
struct DatabaseOutageTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })
    static let devices = 8

    /// Publishes `count` JSON readings at QoS 1, one a second of event time per device, numbered from `first`,
    /// and waits until the broker has acknowledged the last.
    func publish(_ publisher: MQTTClient, prefix: String, first: Int, count: Int, origin: Int64) async throws {
        for index in first..<(first + count) {
            let device = index % Self.devices
            let time = origin + Int64(index / Self.devices) * 1000
            try publisher.publish(
                topic: "\(prefix)/devices/d\(device)/telemetry",
                payload: Array(#"{"ts":\#(time),"level":\#(index)}"#.utf8), qos: .atLeastOnce
            )
            if index % 200 == 0 { await Task.yield() }
        }
        try await publisher.publishAndWait(topic: "\(prefix)/devices/marker/telemetry", payload: Array(#"{"ts":\#(origin),"level":-1}"#.utf8))
    }

    func rolledUp(_ gateway: GatewayUnderTest) async throws -> Int64 {
        try await gateway.scalar("SELECT sum(count)::bigint FROM kappa.rollups_1m WHERE device <> 'marker'")
    }

    @Test("/readyz turns 503 while PostgreSQL is down and 200 when it is back; nothing is lost or counted twice")
    func readinessFollowsTheDatabase() async throws {
        try await GatewayUnderTest.withFresh(name: "outage", checkOutage)
    }

    private func checkOutage(_ gateway: GatewayUnderTest) async throws {
        let process = try await gateway.start()
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port, maxInflightMessages: 100), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }
        let origin = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 1800) * 1000
        let before = 2_000, during = 3_000

        try await publish(publisher, prefix: gateway.topicPrefix, first: 0, count: before, origin: origin)
        #expect(await gateway.eventually(timeout: .seconds(20)) { try await rolledUp(gateway) == Int64(before) })
        #expect(await gateway.eventually(timeout: .seconds(10)) { await gateway.readinessStatus() == 200 })

        await gateway.postgres.stop()
        #expect(await gateway.eventually(timeout: .seconds(15)) { await gateway.readinessStatus() == 503 },
                "/readyz should report the outage:\n\(process.output.suffix(2000))")
        #expect(await gateway.eventually(timeout: .seconds(10)) { try await gateway.metrics().total("kappa_database_up") == 0 })

        // The bridge keeps taking readings into the log while the processors cannot write.
        try await publish(publisher, prefix: gateway.topicPrefix, first: before, count: during, origin: origin)
        #expect(await gateway.eventually(timeout: .seconds(10)) {
            try await gateway.metrics().total("kappa_readings_appended_total") == Double(before + during + 2)
        })
        #expect(await gateway.readinessStatus() == 503)

        try await gateway.postgres.start()
        #expect(await gateway.eventually(timeout: .seconds(30)) { await gateway.readinessStatus() == 200 },
                "/readyz should recover:\n\(process.output.suffix(2000))")
        #expect(await gateway.eventually(timeout: .seconds(30)) { try await rolledUp(gateway) == Int64(before + during) })
        #expect(await gateway.eventually(timeout: .seconds(10)) {
            try await gateway.metrics().total("kappa_processor_lag_records") == 0
        })
        // Counted once: per series, the rollups hold exactly the readings published, and so do the registry and the archive.
        let perDevice = try await gateway.withDatabase { connection in
            let rows = try await connection.query("SELECT device, sum(count)::bigint AS n FROM kappa.rollups_1h WHERE device <> 'marker' GROUP BY device")
            return Dictionary(uniqueKeysWithValues: try rows.map { (try $0["device"].string, try $0["n"].int64) })
        }
        let total = before + during
        let expectedPerDevice = Dictionary(uniqueKeysWithValues: (0..<Self.devices).map { device in
            ("d\(device)", Int64(total / Self.devices + (device < total % Self.devices ? 1 : 0)))
        })
        #expect(perDevice == expectedPerDevice)
        #expect(try await gateway.scalar("SELECT sum(readings)::bigint FROM kappa.devices WHERE device <> 'marker'") == Int64(total))
        #expect(try await gateway.scalar("SELECT count(*) FROM kappa.readings WHERE device <> 'marker'") == Int64(total))
        #expect(try await gateway.metrics().total("kappa_processor_postgres_errors_total") > 0, "the outage should have been noticed")

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(20)) == 0, "SIGTERM should stop kappa cleanly:\n\(process.output.suffix(2000))")
        try await gateway.expectFullyCommitted()
    }
}
