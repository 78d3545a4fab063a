import Foundation
import KappaCore
import KappaTestSupport
import Testing

/// The commands beside `kappa run` on a JetStream log (`--log nats://…`): import, dead letters, replay into a
/// new version, and `kappa log info|dump|verify`, against a 3-node cluster, mosquitto and PostgreSQL.
@Suite("kappa commands on a JetStream log", .serialized, .timeLimit(.minutes(4)))
struct JetStreamCommandTests {
    static let devices = 3
    static let perDevice = 1_500
    static let imported = 200

    func kappa(_ arguments: [String], in root: String, name: String, timeout: Duration = .seconds(90)) async throws -> (status: Int32?, output: String) {
        let process = try KappaProcess(arguments: arguments, outputFile: "\(root)/\(name).log")
        let status = await process.waitForExit(timeout: timeout)
        return (status, process.output)
    }

    @Test("import, dead letters, replay from earliest into v2 equal to the live tables, log info, dump and verify: all on JetStream")
    func commandsOnJetStream() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        let logURL = cluster.urls.joined(separator: ",")
        try await GatewayUnderTest.withFresh(name: "jetstream-commands") { gateway in
            let root = gateway.root
            var process = try await gateway.start(extraArguments: ["--log", logURL, "--partitions", "4"])
            let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 86_400_000
            var publishers: [KappaProcess] = []
            for device in 1...Self.devices {
                let lines = "\(root)/publisher-\(device).txt"
                let payloads = (0..<Self.perDevice).map { index in #"{"ts":\#(start + Int64(index) * 1_000),"v":\#(index % 97)}"# }
                try (payloads.joined(separator: "\n") + "\n").write(toFile: lines, atomically: true, encoding: .utf8)
                publishers.append(try KappaProcess(
                    executablePath: "/bin/sh",
                    arguments: ["-c", "exec mosquitto_pub -p \(gateway.broker.port) -q 1 -l -t '\(gateway.topicPrefix)/devices/d\(device)/telemetry' < '\(lines)'"],
                    outputFile: "\(root)/publisher-\(device).log"
                ))
            }
            let bad = try KappaProcess(
                executablePath: "/usr/bin/mosquitto_pub",
                arguments: ["-p", "\(gateway.broker.port)", "-q", "1", "-t", "\(gateway.topicPrefix)/devices/broken/telemetry", "-m", "not json"],
                outputFile: "\(root)/bad.log"
            )
            #expect(await bad.waitForExit() == 0)
            for publisher in publishers { #expect(await publisher.waitForExit(timeout: .seconds(60)) == 0, "\(publisher.output)") }
            let live = Int64(Self.devices * Self.perDevice)
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m") >= live
            }, "the live rollups did not reach \(live):\n\(process.output.suffix(2000))")
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0)

            // Historical readings into the JetStream log, then the gateway processes them like live ones.
            let csv = "\(root)/history.csv"
            let rows = (0..<Self.imported).map { index in "\(start / 1_000 - 7_200 + Int64(index) * 10),imported,temperature,\(index)" }
            try (["time,device,metric,value"] + rows).joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
            let imported = try await kappa(["import", "--format", "csv", "--log", logURL, "--partitions", "4", csv], in: root, name: "import")
            #expect(imported.status == 0, "\(imported.output)")
            #expect(imported.output.contains("Imported \(Self.imported) readings"), "\(imported.output)")

            process = try await gateway.start(extraArguments: ["--log", logURL, "--partitions", "4"])
            let total = live + Int64(Self.imported)
            #expect(await gateway.eventually(timeout: .seconds(60)) {
                try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m") >= total
            }, "the imported readings were not processed:\n\(process.output.suffix(2000))")
            #expect(await gateway.eventually(timeout: .seconds(30)) { try await gateway.scalar("SELECT count(*) FROM kappa.dead_letters") >= 1 })
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0)

            let letters = try await kappa(["dead-letters", "list", "--log", logURL], in: root, name: "dead-letters")
            #expect(letters.status == 0 && letters.output.contains("devices/broken/telemetry"), "\(letters.output)")

            // Replay from the start of the JetStream log into v2: the same rollups as the live version.
            let replay = try await kappa([
                "replay", "rollups", "--output-version", "v2", "--from", "earliest", "--until-caught-up",
                "--log", logURL, "--database", gateway.database.conninfo, "--processor-nice", "0",
            ], in: root, name: "replay", timeout: .seconds(120))
            #expect(replay.status == 0, "\(replay.output.suffix(3000))")
            let columns = "device, metric, width_seconds, bucket, count, sum, min, max"
            let differing = try await gateway.scalar("""
                SELECT count(*) FROM ((SELECT \(columns) FROM kappa.rollups_v1 EXCEPT ALL SELECT \(columns) FROM kappa.rollups_v2)
                UNION ALL (SELECT \(columns) FROM kappa.rollups_v2 EXCEPT ALL SELECT \(columns) FROM kappa.rollups_v1)) AS difference
                """)
            #expect(differing == 0, "\(differing) rollup rows differ between the live version and the replay")
            let replayed = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_v2 WHERE width_seconds = 60")
            #expect(replayed == total, "the replay counted \(replayed) of \(total) readings")

            let info = try await kappa(["log", "info", "--log", logURL], in: root, name: "info")
            #expect(info.status == 0, "\(info.output)")
            #expect(info.output.contains("stream readings: 4 partitions"), "\(info.output)")
            #expect(info.output.contains("replicas 3, leader kappa-"), "\(info.output)")

            let dump = try await kappa(["log", "dump", "--log", logURL, "--partition", "0", "--count", "3"], in: root, name: "dump")
            #expect(dump.status == 0, "\(dump.output)")
            #expect(dump.output.split(separator: "\n").filter { $0.hasPrefix("readings/0@") }.count == 3, "\(dump.output)")

            let verify = try await kappa(["log", "verify", "--log", logURL], in: root, name: "verify")
            #expect(verify.status == 0, "\(verify.output)")
            #expect(verify.output.contains("\(total + 1) records"), "every reading and the dead letter read back: \(verify.output)")
            // Against other settings: a mismatch is reported and fails.
            let mismatch = try await kappa(["log", "verify", "--log", logURL, "--log-replicas", "1"], in: root, name: "verify-replicas")
            #expect(mismatch.status == 2, "\(mismatch.output)")
            #expect(mismatch.output.contains("replicas 3, expected 1"), "\(mismatch.output)")
        }
    }
}
