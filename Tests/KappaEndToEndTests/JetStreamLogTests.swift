import Foundation
import KappaCore
import KappaTestSupport
import Testing

/// `kappa run --log nats://…`: every role on a 3-node JetStream cluster, a real mosquitto and PostgreSQL.
/// Four minutes each: in a full run beside other helpers' full runs (load average above 100) the node-kill test
/// ran past a 3-minute limit before any of its own waits had failed; alone it takes about 30 s.
@Suite("kappa run on a JetStream log", .serialized, .timeLimit(.minutes(4)))
struct JetStreamLogTests {
    static let publishers = 4
    static let perDevice = 8_000

    @Test("4 publishers at QoS 1, kill -9 one of 3 NATS nodes during the load, restart it: rollups, archive and registry count every reading once")
    func natsNodeKilledDuringLoad() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        try await GatewayUnderTest.withFresh(name: "jetstream") { gateway in
            let prefix = gateway.topicPrefix
            let process = try await gateway.start(extraArguments: ["--log", cluster.urls.joined(separator: ","), "--partitions", "4"])
            #expect(process.output.contains("the log is on NATS JetStream"), "\(process.output.suffix(3000))")

            let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 86_400_000
            var publishing: [KappaProcess] = []
            for device in 1...Self.publishers {
                let lines = "\(gateway.root)/publisher-\(device).txt"
                let payloads = (0..<Self.perDevice).map { index in #"{"ts":\#(start + Int64(index) * 1_000),"v":\#(index)}"# }
                try (payloads.joined(separator: "\n") + "\n").write(toFile: lines, atomically: true, encoding: .utf8)
                publishing.append(try KappaProcess(
                    executablePath: "/bin/sh",
                    arguments: ["-c", "exec mosquitto_pub -p \(gateway.broker.port) -q 1 -l -t '\(prefix)/devices/d\(device)/telemetry' < '\(lines)'"],
                    outputFile: "\(gateway.root)/publisher-\(device).log"
                ))
            }
            // Kill a node while the bridge appends, so some partitions lose their leader mid-batch.
            let appendedBeforeKill = await gateway.eventually(timeout: .seconds(20), every: .milliseconds(50)) {
                try await gateway.metrics().total("kappa_readings_appended_total") >= 2_000
            }
            #expect(appendedBeforeKill, "the bridge did not append 2000 readings before the kill")
            // The node leading the most readings partitions, so appends lose their leader mid-batch.
            let victim = try #require(cluster.nodeLeadingMost(of: (0..<4).map { "KAPPA_readings_\($0)" }), "no readings partition has a leader")
            try cluster.kill(node: victim.node)
            try await Task.sleep(for: .seconds(2))
            let appendedWhileDown = try await gateway.metrics().total("kappa_readings_appended_total")
            #expect(appendedWhileDown < Double(Self.publishers * Self.perDevice), "the kill landed during the load")
            try await cluster.restart(node: victim.node)
            for publisher in publishing {
                let status = await publisher.waitForExit(timeout: .seconds(60))
                #expect(status == 0, "mosquitto_pub: \(publisher.output)")
            }

            let expected = Int64(Self.publishers * Self.perDevice)
            let settled = await gateway.eventually(timeout: .seconds(60), every: .milliseconds(500)) {
                let rollups = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m")
                let archived = try await gateway.scalar("SELECT count(*) FROM kappa.readings")
                let registered = try await gateway.scalar("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices")
                return rollups >= expected && archived >= expected && registered >= expected
            }
            #expect(settled, "the processors did not catch up with \(expected) readings:\n\(process.output.suffix(3000))")
            // Let any straggler land, then count exactly, per device.
            try await Task.sleep(for: .seconds(1))
            for device in 1...Self.publishers {
                let name = "d\(device)"
                let rollups = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device = '\(name)'")
                let archived = try await gateway.scalar("SELECT count(*) FROM kappa.readings WHERE device = '\(name)'")
                let registered = try await gateway.scalar("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices WHERE device = '\(name)'")
                #expect(rollups == Int64(Self.perDevice), "\(name): rollups count \(rollups) of \(Self.perDevice) readings")
                #expect(archived == Int64(Self.perDevice), "\(name): archive holds \(archived) of \(Self.perDevice) readings")
                #expect(registered == Int64(Self.perDevice), "\(name): registry counts \(registered) of \(Self.perDevice) readings")
            }
            let total = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m")
            #expect(total == expected, "rollups count \(total) of \(expected) readings")
            // What the run went through, for the note: readings appended by the end of the outage, and whether intake paused.
            let metrics = try await gateway.metrics()
            print("JetStream node kill: nats-server \(victim.node) led \(victim.streams); \(Int(appendedWhileDown)) of \(expected) readings appended 2 s after the kill; redelivered readings \(Int(metrics.total("kappa_mqtt_redelivered_readings_total"))); NATS connected \(Int(metrics.total("kappa_log_nats_connected")))")
            #expect(metrics.total("kappa_log_nats_connected") == 1)
            #expect(metrics.values("kappa_log_bytes").isEmpty, "JetStream reports no bytes on disk")
            #expect(await gateway.readinessStatus() == 200)

            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0, "\(process.output.suffix(3000))")
        }
    }

    @Test("processors that start while JetStream has no quorum wait for it instead of ending the gateway, then count every reading once")
    func processorsStartingDuringANATSOutageWait() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        try await GatewayUnderTest.withFresh(name: "jetstream-processors-wait") { gateway in
            // PostgreSQL down first: the bridge takes readings into the log while the processors wait for the
            // database, so they open their streams only when it is back, and then JetStream will not answer.
            await gateway.postgres.stop()
            let process = try await gateway.start(extraArguments: ["--log", cluster.urls.joined(separator: ","), "--partitions", "4"])
            let perDevice = 500
            let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 86_400_000
            for device in 1...2 {
                let lines = "\(gateway.root)/publisher-\(device).txt"
                try ((0..<perDevice).map { #"{"ts":\#(start + Int64($0) * 1_000),"v":\#($0)}"# }.joined(separator: "\n") + "\n")
                    .write(toFile: lines, atomically: true, encoding: .utf8)
                let publisher = try KappaProcess(
                    executablePath: "/bin/sh",
                    arguments: ["-c", "exec mosquitto_pub -p \(gateway.broker.port) -q 1 -l -t '\(gateway.topicPrefix)/devices/d\(device)/telemetry' < '\(lines)'"],
                    outputFile: "\(gateway.root)/publisher-\(device).log"
                )
                #expect(await publisher.waitForExit(timeout: .seconds(60)) == 0, "mosquitto_pub: \(publisher.output)")
            }
            #expect(await gateway.eventually(timeout: .seconds(30)) {
                try await gateway.metrics().total("kappa_readings_appended_total") >= Double(2 * perDevice)
            }, "the bridge did not append the readings:\n\(process.output.suffix(2000))")

            // Two of three nodes gone: no quorum, so every JetStream request times out, stream lookups included.
            try cluster.kill(node: 1)
            try cluster.kill(node: 2)
            // Until the survivor notices it lost its peers, it may still answer as the cluster's meta leader.
            #expect(await gateway.eventually(timeout: .seconds(30), every: .milliseconds(200)) { !cluster.jetStreamAnswers(node: 0) },
                    "JetStream still answers on the one node left")
            try await gateway.postgres.start()
            let waited = await process.waitForOutput(containing: "processors wait for it", timeout: .seconds(60))
            #expect(waited, "the processors did not say they wait for the log:\n\(process.output.suffix(3000))")
            #expect(process.isRunning, "the gateway ended:\n\(process.output.suffix(3000))")

            try await cluster.restart(node: 1)
            try await cluster.restart(node: 2)
            let counted = await gateway.eventually(timeout: .seconds(60), every: .milliseconds(500)) {
                try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m") >= Int64(2 * perDevice)
            }
            #expect(counted, "the processors did not catch up:\n\(process.output.suffix(3000))")
            try await Task.sleep(for: .seconds(1))
            for device in 1...2 {
                let rollups = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device = 'd\(device)'")
                #expect(rollups == Int64(perDevice), "d\(device): rollups count \(rollups) of \(perDevice) readings")
            }
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0, "\(process.output.suffix(3000))")
        }
    }
}
