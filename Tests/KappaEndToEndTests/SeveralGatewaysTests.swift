import Foundation
import KappaCore
import KappaJetStream
import KappaLog
import KappaTestSupport
import Logging
import Testing

/// Three `kappa run` sharing one subscription, one JetStream log and one database; one is killed with
/// SIGKILL under QoS 1 load and started again.
@Suite("Several gateways", .serialized, .timeLimit(.minutes(5)))
struct SeveralGatewaysTests {
    static let members = 3
    static let publishers = 4
    static let perDevice = 3_000
    static let partitions: Set<Int> = [0, 1, 2, 3]

    @Test("3 gateways, kill -9 one during the load, restart it: its partitions are taken over, every reading counted once")
    func aGatewayKilledDuringLoad() async throws {
        try await GatewayFleet.withFresh(members: Self.members, name: "fleet") { fleet in
            for member in 0..<Self.members { try await fleet.start(member) }
            // Each claims its share: 4 partitions among 3 gateways.
            let balanced = await fleet.eventually(timeout: .seconds(60)) {
                for member in 0..<Self.members where try await fleet.ownedPartitions(member, processor: "rollups").isEmpty { return false }
                return true
            }
            #expect(balanced, "not every gateway claimed rollup partitions")

            let prefix = fleet.topicPrefix
            let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 86_400_000
            var publishing: [KappaProcess] = []
            for device in 1...Self.publishers {
                let lines = "\(fleet.root)/publisher-\(device).txt"
                let payloads = (0..<Self.perDevice).map { index in #"{"ts":\#(start + Int64(index) * 1_000),"v":\#(index)}"# }
                try (payloads.joined(separator: "\n") + "\n").write(toFile: lines, atomically: true, encoding: .utf8)
                publishing.append(try KappaProcess(
                    executablePath: "/bin/sh",
                    arguments: ["-c", "exec mosquitto_pub -p \(fleet.broker.port) -q 1 -l -t '\(prefix)/devices/d\(device)/telemetry' < '\(lines)'"],
                    outputFile: "\(fleet.root)/publisher-\(device).log"
                ))
            }
            let victim = 0
            let loaded = await fleet.eventually(timeout: .seconds(60), every: .milliseconds(50)) {
                try await fleet.metrics(victim).total("kappa_readings_appended_total") >= 300
            }
            #expect(loaded, "the gateway to be killed appended no readings")
            let victimOwned = try await fleet.ownedPartitions(victim, processor: "rollups")
            #expect(!victimOwned.isEmpty)
            await fleet.kill(victim)
            let killedAt = ContinuousClock.now

            // The survivors claim what the dead gateway held: its locks died with its PostgreSQL connections.
            var takeover: Duration?
            let takenOver = await fleet.eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                var owned: Set<Int> = []
                for member in 0..<Self.members where member != victim {
                    owned.formUnion(try await fleet.ownedPartitions(member, processor: "rollups"))
                }
                if owned == Self.partitions, takeover == nil { takeover = ContinuousClock.now - killedAt }
                return owned == Self.partitions
            }
            #expect(takenOver, "the survivors did not take over partitions \(victimOwned)")
            try await fleet.start(victim)
            let restartedAt = ContinuousClock.now
            var rebalance: Duration?
            let rebalanced = await fleet.eventually(timeout: .seconds(60)) {
                let owned = try await fleet.ownedPartitions(victim, processor: "rollups")
                if !owned.isEmpty, rebalance == nil { rebalance = ContinuousClock.now - restartedAt }
                return !owned.isEmpty
            }
            #expect(rebalanced, "the restarted gateway got no partition back")

            for publisher in publishing {
                let status = await publisher.waitForExit(timeout: .seconds(180))
                #expect(status == 0, "mosquitto_pub: \(publisher.output)")
            }
            let expected = Int64(Self.publishers * Self.perDevice)
            let settled = await fleet.eventually(timeout: .seconds(120), every: .milliseconds(500)) {
                let rollups = try await fleet.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m")
                let archived = try await fleet.scalar("SELECT count(*) FROM kappa.readings")
                let registered = try await fleet.scalar("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices")
                return rollups >= expected && archived >= expected && registered >= expected
            }
            #expect(settled, "the processors did not catch up with \(expected) readings")
            // Let any straggler land, then count exactly, per device.
            try await Task.sleep(for: .seconds(2))
            for device in 1...Self.publishers {
                let name = "d\(device)"
                let rollups = try await fleet.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device = '\(name)'")
                let archived = try await fleet.scalar("SELECT count(*) FROM kappa.readings WHERE device = '\(name)'")
                let registered = try await fleet.scalar("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices WHERE device = '\(name)'")
                #expect(rollups == Int64(Self.perDevice), "\(name): rollups count \(rollups) of \(Self.perDevice) readings")
                #expect(archived == Int64(Self.perDevice), "\(name): archive holds \(archived) of \(Self.perDevice) readings")
                #expect(registered == Int64(Self.perDevice), "\(name): registry counts \(registered) of \(Self.perDevice) readings")
            }
            var appended = 0.0, redelivered = 0.0, duplicates = 0.0, fenced = 0.0, claimed = 0.0
            for member in 0..<Self.members {
                let metrics = try await fleet.metrics(member)
                appended += metrics.total("kappa_readings_appended_total")
                redelivered += metrics.total("kappa_mqtt_redelivered_readings_total")
                duplicates += metrics.values("kappa_processor_duplicates_total").filter { $0.labels["processor"] == "rollups" }.map(\.value).reduce(0, +)
                fenced += metrics.total("kappa_processor_fenced_total")
                claimed += metrics.values("kappa_processor_partitions_claimed_total").filter { $0.labels["processor"] == "rollups" }.map(\.value).reduce(0, +)
            }
            print("""
                Several gateways: the killed gateway held rollup partitions \(victimOwned.sorted()); the survivors held all 4 \
                \(takeover.map { "\($0)" } ?? "never") after the kill; the restarted one held a partition again \(rebalance.map { "\($0)" } ?? "never") \
                after its start; readings appended \(Int(appended)) (the restarted gateway's since its restart), broker resends recognised by \
                the bridges \(Int(redelivered)), duplicates dropped by rollups \(Int(duplicates)), \
                fenced checkpoints \(Int(fenced)), rollup partitions claimed \(Int(claimed))
                """)
            // Every published reading is distinct (device, time, value), so a duplicate the processors drop is a
            // message the log holds twice: a resend its gateway's bridge did not recognise, or an append JetStream
            // stored twice. Neither may happen; the duplicate window (4 096 records) would hide neither beyond it.
            #expect(duplicates == 0, "the processors dropped \(Int(duplicates)) readings the log holds twice")
            // The killed gateway's processors' counts died with it, so the log itself is read too: each message
            // (its session, packet identifier and fingerprint) once, and one record per published reading.
            let held = try await Self.heldInLog(fleet)
            #expect(held.storedTwice == 0, "\(held.storedTwice) messages are in the log more than once")
            #expect(held.records == Int(expected), "the log holds \(held.records) records for \(expected) readings")
        }
    }

    /// Reads the `readings` stream of the fleet's JetStream log back: how many records, and how many of the
    /// messages they came in are there more than once.
    static func heldInLog(_ fleet: GatewayFleet) async throws -> (records: Int, storedTwice: Int) {
        let urls = fleet.cluster.urls
        return try await Blocking.run {
            let log = try JetStreamLog.connect(configuration: JetStreamConfiguration(servers: urls), logger: Logger(label: "kappa.test.fleet"))
            defer { log.close() }
            let records = try LogContents.records(of: try log.openStream(named: KappaStreams.readings))
            struct Message: Hashable { var session: UInt32, packetID: UInt16, fingerprint: UInt32 }
            var messages = Set<Message>()
            var storedTwice = 0
            for record in records {
                let delivery = try record.value.withUnsafeBytes { bytes in try ReadingRecord.decodeWithDelivery(bytes).delivery }
                guard let delivery else { continue }
                if !messages.insert(Message(session: delivery.session, packetID: delivery.packetID, fingerprint: delivery.fingerprint)).inserted {
                    storedTwice += 1
                }
            }
            return (records.count, storedTwice)
        }
    }
}
