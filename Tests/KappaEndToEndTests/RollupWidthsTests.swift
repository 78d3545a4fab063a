import Foundation
import KappaCore
import KappaMQTT
import KappaPostgres
import KappaTestSupport
import Logging
import Testing

/// `kappa run --rollup-widths`: a view per width with percentiles; the widths stay with the output version.
@Suite("kappa run: rollup widths and percentiles", .serialized, .timeLimit(.minutes(5)))
struct RollupWidthsTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })

    private func publish(_ count: Int, from first: Int, origin: Int64, gateway: GatewayUnderTest) async throws {
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port, maxInflightMessages: 100), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }
        for index in first..<(first + count) {
            // A reading every 3 s; the values wander with a spike every 50th, so percentiles differ from means.
            let value = Double(index % 97) + (index % 50 == 0 ? 1000 : 0)
            try await publisher.publishAndWait(topic: "\(gateway.topicPrefix)/devices/d\(index % 2)/telemetry",
                                               payload: Array(#"{"ts":\#(origin + Int64(index) * 3000),"level":\#(value)}"#.utf8))
        }
    }

    @Test("widths 1m,5m,1h: every view has percentiles within 1 % of the archive's; restarted without the setting it keeps them; other widths stop only the rollups")
    func widthsFollowTheVersion() async throws {
        try await GatewayUnderTest.withFresh(name: "widths") { gateway in
            let origin = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000_000 - 7200) * 1000
            var process = try await gateway.start(extraArguments: ["--rollup-widths", "1m,5m,1h"])
            try await publish(400, from: 0, origin: origin, gateway: gateway)
            // The archive commits on its own: the exact values need all of it.
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                let rolled = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_5m")
                let archived = try await gateway.scalar("SELECT count(*) FROM kappa.readings")
                return rolled == 400 && archived == 400
            }, "\(process.output.suffix(2000))")
            for view in ["rollups_1m", "rollups_5m", "rollups_1h"] {
                let width = ["rollups_1m": 60, "rollups_5m": 300, "rollups_1h": 3600][view]!
                let outside = try await gateway.withDatabase { connection in
                    try await connection.query(
                        """
                        WITH exact AS (
                            SELECT device, date_bin(make_interval(secs => \(width)), time, timestamptz 'epoch') AS bucket,
                                   count(*) AS n, array_agg(value ORDER BY value) AS v
                            FROM kappa.readings GROUP BY 1, 2
                        )
                        SELECT count(*) FILTER (WHERE abs(r.p50 - e.v[floor(0.5::float8 * (e.n - 1))::int + 1]) > 0.01 * abs(e.v[floor(0.5::float8 * (e.n - 1))::int + 1])
                                             OR abs(r.p99 - e.v[floor(0.99::float8 * (e.n - 1))::int + 1]) > 0.01 * abs(e.v[floor(0.99::float8 * (e.n - 1))::int + 1])
                                             OR r.count <> e.n),
                               count(*)
                        FROM kappa.\(view) r JOIN exact e USING (device, bucket)
                        """
                    ).first.map { [try $0[0].int64, try $0[1].int64] } ?? []
                }
                #expect(outside.first == 0 && (outside.last ?? 0) > 0, "\(view): \(outside) buckets outside the bound / compared")
            }
            #expect(try await gateway.scalar("SELECT count(*) FROM kappa.rollups_1d") == 0, "1d is not among the widths")

            // Restarted without the setting: the version's widths stay.
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
            process = try await gateway.start()
            try await publish(100, from: 400, origin: origin, gateway: gateway)
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_5m") == 500
            }, "\(process.output.suffix(2000))")

            // Other widths on the same version: the rollups stop with a message; intake and the archive go on.
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
            process = try await gateway.start(extraArguments: ["--rollup-widths", "1m,1h,1d"])
            try await publish(50, from: 500, origin: origin, gateway: gateway)
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                try await gateway.scalar("SELECT count(*) FROM kappa.readings") == 550
            })
            let status = await gateway.readinessStatus()
            #expect(status == 503, "a stopped processor makes the gateway not ready")
            #expect(process.output.contains("holds the widths 1m,5m,1h, not 1m,1h,1d"), "\(process.output.suffix(2000))")
            #expect(try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_5m") == 500)
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(20)) == 0)
        }
    }
}
