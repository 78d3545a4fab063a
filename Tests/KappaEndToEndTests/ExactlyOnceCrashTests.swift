import Foundation
import KappaCore
import KappaTestSupport
import Testing

/// The load that showed readings counted twice: four publishers at full speed (`mosquitto_pub -l`, QoS 1),
/// the broker's in-flight window at 1 000, and `kill -9` twice while messages are in flight. mosquitto then
/// resends thousands of messages the log already holds; every one must be counted once, by every processor.
@Suite("Exactly once under kill -9 and a burst of publishers", .serialized, .timeLimit(.minutes(8)))
struct ExactlyOnceCrashTests {
    enum PayloadShape: String, CaseIterable, Sendable {
        /// `{"ts": …, "v": i}`: the device's event time identifies the reading.
        case timestamped
        /// A bare number: stamped with the receive time, which differs on the resent copy.
        case bareNumber
    }

    static let publishers = 4

    @Test("4 publishers, kill -9 twice: rollups, archive and registry count each reading once", arguments: PayloadShape.allCases)
    func killNineTwiceUnderABurst(shape: PayloadShape) async throws {
        // Bare numbers carry the same values again and again; fewer of them keep the run short.
        let perDevice = shape == .timestamped ? 60_000 : 30_000
        try await GatewayUnderTest.withFresh(name: "exactly-once") { gateway in
            let prefix = gateway.topicPrefix
            try await gateway.start(extraArguments: ["--topic", "\(prefix)/devices/{device}/{metric}=number"])
            let start = Timestamp.now().nanosecondsSinceEpoch / 1_000_000 - 86_400_000
            var publishing: [KappaProcess] = []
            for device in 1...Self.publishers {
                let lines = "\(gateway.root)/publisher-\(device).txt"
                let payloads = (0..<perDevice).map { index in
                    shape == .timestamped ? #"{"ts":\#(start + Int64(index) * 1_000),"v":\#(index)}"# : "\(index % 100)"
                }
                try (payloads.joined(separator: "\n") + "\n").write(toFile: lines, atomically: true, encoding: .utf8)
                let topic = shape == .timestamped ? "\(prefix)/devices/d\(device)/telemetry" : "\(prefix)/devices/d\(device)/v"
                publishing.append(try KappaProcess(
                    executablePath: "/bin/sh",
                    arguments: ["-c", "exec mosquitto_pub -p \(gateway.broker.port) -q 1 -l -t '\(topic)' < '\(lines)'"],
                    outputFile: "\(gateway.root)/publisher-\(device).log"
                ))
            }
            for pause in [Duration.seconds(3), .seconds(4)] {
                try await Task.sleep(for: pause)
                gateway.gateway?.signal(SIGKILL)
                _ = await gateway.gateway?.waitForExit()
                try await gateway.start(extraArguments: ["--topic", "\(prefix)/devices/{device}/{metric}=number"])
            }
            for publisher in publishing {
                let status = await publisher.waitForExit(timeout: .seconds(180))
                #expect(status == 0, "mosquitto_pub: \(publisher.output)")
            }

            let expected = Int64(Self.publishers * perDevice)
            let settled = await gateway.eventually(timeout: .seconds(240), every: .seconds(1)) {
                let rollups = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m")
                let archived = try await gateway.scalar("SELECT count(*) FROM kappa.readings")
                let registered = try await gateway.scalar("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices")
                return rollups >= expected && archived >= expected && registered >= expected
            }
            #expect(settled, "the processors did not catch up with \(expected) readings")
            // Let any straggler land, then count exactly, per device.
            try await Task.sleep(for: .seconds(2))
            for device in 1...Self.publishers {
                let name = "d\(device)"
                let rollups = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device = '\(name)'")
                let archived = try await gateway.scalar("SELECT count(*) FROM kappa.readings WHERE device = '\(name)'")
                let registered = try await gateway.scalar("SELECT coalesce(sum(readings), 0)::bigint FROM kappa.devices WHERE device = '\(name)'")
                #expect(rollups == Int64(perDevice), "\(name): rollups count \(rollups) of \(perDevice) readings")
                #expect(archived == Int64(perDevice), "\(name): archive holds \(archived) of \(perDevice) readings")
                #expect(registered == Int64(perDevice), "\(name): registry counts \(registered) of \(perDevice) readings")
            }
        }
    }
}
