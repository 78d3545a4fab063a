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
                SELECT count(*) FROM ((SELECT \(columns) FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id EXCEPT ALL SELECT \(columns) FROM kappa.rollups_v2 JOIN kappa.series ON series.id = series_id)
                UNION ALL (SELECT \(columns) FROM kappa.rollups_v2 JOIN kappa.series ON series.id = series_id EXCEPT ALL SELECT \(columns) FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id)) AS difference
                """)
            #expect(differing == 0, "\(differing) rollup rows differ between the live version and the replay")
            let replayed = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_v2 JOIN kappa.series ON series.id = series_id WHERE width_seconds = 60")
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

    /// Publishes `count` timestamped readings of each device from `first` on, and waits for the publishers.
    func publish(_ gateway: GatewayUnderTest, devices: Int, from first: Int, count: Int, start: Int64, tag: String) async throws {
        var publishers: [KappaProcess] = []
        for device in 1...devices {
            let lines = "\(gateway.root)/\(tag)-\(device).txt"
            let payloads = (first..<(first + count)).map { index in #"{"ts":\#(start + Int64(index) * 1_000),"v":\#(index % 89)}"# }
            try (payloads.joined(separator: "\n") + "\n").write(toFile: lines, atomically: true, encoding: .utf8)
            publishers.append(try KappaProcess(
                executablePath: "/bin/sh",
                arguments: ["-c", "exec mosquitto_pub -p \(gateway.broker.port) -q 1 -l -t '\(gateway.topicPrefix)/devices/d\(device)/telemetry' < '\(lines)'"],
                outputFile: "\(gateway.root)/\(tag)-\(device).log"
            ))
        }
        for publisher in publishers { #expect(await publisher.waitForExit(timeout: .seconds(60)) == 0, "\(publisher.output)") }
    }

    func waitForRollups(_ gateway: GatewayUnderTest, _ expected: Int64, _ process: KappaProcess) async {
        let reached = await gateway.eventually(timeout: .seconds(60)) {
            try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m") >= expected
        }
        #expect(reached, "the rollups did not reach \(expected):\n\(process.output.suffix(2000))")
    }

    @Test("log migrate then continue: processors on the embedded log, migrate (twice, the second continuing where the first ended), the gateway on JetStream with more load: every reading counted exactly once")
    func migrateThenContinue() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        let logURL = cluster.urls.joined(separator: ",")
        try await GatewayUnderTest.withFresh(name: "jetstream-migrate") { gateway in
            let root = gateway.root
            let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 86_400_000
            let devices = 3, batch = 1_000

            // First load on the embedded log; migrate.
            var process = try await gateway.start(extraArguments: ["--partitions", "4"])
            try await publish(gateway, devices: devices, from: 0, count: batch, start: start, tag: "first")
            await waitForRollups(gateway, Int64(devices * batch), process)
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
            let first = try await kappa(["log", "migrate", "--data-dir", gateway.dataDirectory, "--to", logURL], in: root, name: "migrate-1")
            #expect(first.status == 0, "\(first.output)")
            #expect(first.output.contains("Copied \(devices * batch) records"), "\(first.output)")

            // More on the embedded log after the first copy (as if the first run had been cut short): the
            // second run copies only what is new, then verifies all of it.
            process = try await gateway.start(extraArguments: ["--partitions", "4"])
            try await publish(gateway, devices: devices, from: batch, count: batch, start: start, tag: "second")
            await waitForRollups(gateway, Int64(2 * devices * batch), process)
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
            let second = try await kappa(["log", "migrate", "--data-dir", gateway.dataDirectory, "--to", logURL], in: root, name: "migrate-2")
            #expect(second.status == 0, "\(second.output)")
            #expect(second.output.contains("Copied \(devices * batch) records"), "only the new records: \(second.output)")
            #expect(second.output.contains("all \(2 * devices * batch) records verified"), "\(second.output)")
            let again = try await kappa(["log", "migrate", "--data-dir", gateway.dataDirectory, "--to", logURL], in: root, name: "migrate-3")
            #expect(again.status == 0 && again.output.contains("Copied 0 records"), "a finished migration is a no-op: \(again.output)")

            // The gateway on JetStream with more load: processors continue from their checkpoints.
            process = try await gateway.start(extraArguments: ["--log", logURL, "--partitions", "4"])
            try await publish(gateway, devices: devices, from: 2 * batch, count: batch, start: start, tag: "third")
            let total = Int64(3 * devices * batch)
            await waitForRollups(gateway, total, process)
            #expect(await gateway.eventually(timeout: .seconds(30)) { try await gateway.scalar("SELECT count(*) FROM kappa.readings") >= total })
            try await Task.sleep(for: .seconds(1))
            for device in 1...devices {
                let rollups = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device = 'd\(device)'")
                let archived = try await gateway.scalar("SELECT count(*) FROM kappa.readings WHERE device = 'd\(device)'")
                #expect(rollups == Int64(3 * batch), "d\(device): rollups count \(rollups) of \(3 * batch)")
                #expect(archived == Int64(3 * batch), "d\(device): archive holds \(archived) of \(3 * batch)")
            }
            process.signal(SIGTERM)
            #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
            let verify = try await kappa(["log", "verify", "--log", logURL], in: root, name: "verify")
            #expect(verify.status == 0 && verify.output.contains("\(total) records"), "\(verify.output)")
        }
    }

    @Test("kappa run on a NATS cluster that never answers waits log.nats.startup_wait_seconds saying why, then exits; refused credentials exit at once naming the settings")
    func unreachableAndRefused() async throws {
        let root = try TemporaryDirectory.make(prefix: "kappa-nats-start")
        let nowhere = "nats://127.0.0.1:\(LoopbackPort.free())"
        let started = ContinuousClock.now
        let waited = try await kappa([
            "run", "--roles", "bridge", "--log", nowhere, "--nats-startup-wait", "8", "--data-dir", "\(root)/data",
            "--http", "127.0.0.1:\(LoopbackPort.free())",
        ], in: root, name: "unreachable", timeout: .seconds(60))
        #expect(waited.status != nil && waited.status != 0, "\(waited.output)")
        #expect(waited.output.contains("the NATS cluster does not answer yet; waiting for it"), "\(waited.output)")
        #expect(waited.output.contains("the NATS cluster did not answer within log.nats.startup_wait_seconds"), "\(waited.output)")
        #expect(ContinuousClock.now - started >= .seconds(8), "it waited")

        let cluster = try await NATSCluster.start(nodes: 1, authorization: .user("kappa", password: "right-one"))
        defer { cluster.stop() }
        let process = try KappaProcess(arguments: ["log", "info", "--log", cluster.urls[0], "--log-replicas", "1", "--nats-user", "kappa"],
                                       environment: ["KAPPA_NATS_PASSWORD": "wrong-one"], outputFile: "\(root)/refused.log")
        #expect(await process.waitForExit(timeout: .seconds(20)) != 0, "\(process.output)")
        #expect(process.output.contains("NATS refused the connection"), "\(process.output)")
        let accepted = try KappaProcess(arguments: ["log", "info", "--log", cluster.urls[0], "--log-replicas", "1", "--nats-user", "kappa"],
                                        environment: ["KAPPA_NATS_PASSWORD": "right-one"], outputFile: "\(root)/accepted.log")
        #expect(await accepted.waitForExit(timeout: .seconds(20)) == 0, "\(accepted.output)")
        #expect(accepted.output.contains("JetStream log on"), "\(accepted.output)")
    }

    @Test("over mutual TLS to NATS: kappa import appends and log verify reads every record back; a wrong CA is refused with a clear error")
    func overTLS() async throws {
        let root = try TemporaryDirectory.make(prefix: "kappa-nats-tls-commands")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/ours", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/strangers", withIntermediateDirectories: true)
        let certificates = try TestCertificates.make(in: "\(root)/ours")
        let strangers = try TestCertificates.make(in: "\(root)/strangers")
        let cluster = try await NATSCluster.start(nodes: 1, tls: .init(certificates: certificates, verifiesClients: true))
        defer { cluster.stop() }
        let log = ["--log", cluster.urls[0], "--log-replicas", "1"]
        let client = ["--nats-tls-cert", certificates.clientCertificate, "--nats-tls-key", certificates.clientKey]

        let csv = "\(root)/history.csv"
        let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000_000 - 86_400
        let rows = (0..<50).map { index in "\(start + Int64(index) * 10),tls-device,temperature,\(index)" }
        try (["time,device,metric,value"] + rows).joined(separator: "\n").appending("\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let imported = try await kappa(["import", "--format", "csv", "--partitions", "4", "--nats-tls-ca", certificates.caCertificate, csv] + log + client,
                                       in: root, name: "import", timeout: .seconds(60))
        #expect(imported.status == 0, "\(imported.output)")
        #expect(imported.output.contains("Imported 50 readings"), "\(imported.output)")
        let verify = try await kappa(["log", "verify", "--nats-tls-ca", certificates.caCertificate] + log + client, in: root, name: "verify", timeout: .seconds(60))
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("50 records"), "every imported reading read back over TLS: \(verify.output)")

        let wrongCA = try await kappa(["log", "info", "--nats-tls-ca", strangers.caCertificate] + log + client, in: root, name: "wrong-ca", timeout: .seconds(30))
        #expect(wrongCA.status != nil && wrongCA.status != 0, "\(wrongCA.output)")
        #expect(wrongCA.output.contains("log.nats.tls.ca_file"), "the refusal names the setting to check: \(wrongCA.output)")
    }
}
