import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// `kappa run` as a real process between a real broker and its log directory.
@Suite("kappa run: nothing lost", .serialized, .timeLimit(.minutes(3)))
struct BridgeCrashTests {
    let logger = Logger(label: "kappa.test.e2e")

    func startGateway(broker: MosquittoBroker, dataDirectory: String, clientID: String, prefix: String, run: Int) throws -> KappaProcess {
        try KappaProcess(arguments: [
            "run", "--roles", "bridge",
            "--mqtt", broker.url, "--client-id", clientID, "--data-dir", dataDirectory,
            "--topic", "\(prefix)/devices/{device}/telemetry=json",
            "--disk-floor-mb", "0", "--http", "127.0.0.1:0",
        ], outputFile: "\(dataDirectory)-run-\(run).log")
    }

    func readingsInLog(_ dataDirectory: String) throws -> [Reading] {
        let log = try DiskLog(directory: dataDirectory, logger: logger)
        defer { log.close() }
        return try LogContents.readings(of: log.openStream(named: KappaStreams.readings))
    }

    @Test("kill -9 the gateway under QoS 1 load, restart it: every published reading is in the log")
    func killNineUnderLoad() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let root = try TemporaryDirectory.make(prefix: "kappa-e2e")
        let dataDirectory = "\(root)/data"
        let prefix = uniqueTopicPrefix("crash")
        let clientID = "kappa-crash-\(UInt32.random(in: 0...UInt32.max))"

        var gateway = try startGateway(broker: broker, dataDirectory: dataDirectory, clientID: clientID, prefix: prefix, run: 0)
        // Subscribed, not only connected: a new session takes nothing published before its SUBACK.
        #expect(await gateway.waitForOutput(containing: "MQTT subscriptions confirmed"), "gateway did not subscribe:\n\(gateway.output)")

        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: broker.port, maxInflightMessages: 50), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }

        // The publisher streams without pause while the gateway is killed three times, so kills land in the
        // middle of appends and acknowledgements, not in quiet moments.
        let total = 20_000
        let publishing = Task {
            for index in 0..<total {
                try publisher.publish(
                    topic: "\(prefix)/devices/d\(index % 17)/telemetry",
                    payload: Array(#"{"seq": \#(index)}"#.utf8), qos: .atLeastOnce
                )
                if index % 500 == 0 { await Task.yield() }
            }
            try await publisher.publishAndWait(topic: "\(prefix)/devices/d0/telemetry", payload: Array(#"{"seq": -1}"#.utf8))
        }
        for kill in 1...3 {
            try await Task.sleep(for: .milliseconds(300))
            gateway.signal(SIGKILL)
            _ = await gateway.waitForExit()
            gateway = try startGateway(broker: broker, dataDirectory: dataDirectory, clientID: clientID, prefix: prefix, run: kill)
        }
        try await publishing.value

        // Let the last gateway take in what the broker still holds, then stop it: SIGTERM must exit 0. It is
        // signalled only once connected: a SIGTERM before kappa has set up its handlers ends it like any process.
        #expect(await gateway.waitForOutput(containing: "MQTT connected", timeout: .seconds(60)), "gateway did not connect:\n\(gateway.output)")
        try await Task.sleep(for: .seconds(1))
        gateway.signal(SIGTERM)
        let status = await gateway.waitForExit()
        #expect(status == 0, "graceful stop should exit 0:\n\(gateway.output.suffix(2000))")

        var readings = try readingsInLog(dataDirectory)
        var seen = Set(readings.map { Int($0.value) })
        var attempt = 1
        while !seen.isSuperset(of: -1..<total) && attempt < 20 {
            // Redeliveries of the last session may still wait on the broker: run the gateway once more to drain.
            let drainer = try startGateway(broker: broker, dataDirectory: dataDirectory, clientID: clientID, prefix: prefix, run: 1_000_000 + attempt)
            #expect(await drainer.waitForOutput(containing: "MQTT connected", timeout: .seconds(60)), "drainer did not connect:\n\(drainer.output)")
            try await Task.sleep(for: .seconds(1))
            drainer.signal(SIGTERM)
            #expect(await drainer.waitForExit() == 0, "the drainer should stop cleanly:\n\(drainer.output.suffix(2000))")
            readings = try readingsInLog(dataDirectory)
            seen = Set(readings.map { Int($0.value) })
            attempt += 1
        }
        let missing = Set(-1..<total).subtracting(seen)
        #expect(missing.isEmpty, "\(missing.count) readings lost, e.g. \(missing.sorted().prefix(10))")
        #expect(readings.count >= total + 1)
        logger.info("crash test", metadata: ["readings": "\(readings.count)", "duplicates": "\(readings.count - seen.count)"])
    }
}
