import Foundation
import KappaCore
import KappaMQTT
import KappaPostgres
import KappaStream
import KappaTestSupport
import Logging
import Testing

/// The anomaly processor on real arrival patterns: a fleet's backlog drained at full speed through the real
/// broker, and a device falling silent; rows read back from the real database.
@Suite("kappa run: anomalies under bursts and silence", .serialized, .timeLimit(.minutes(3)))
struct AnomalyTimingTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })
    static let devices = 20

    /// Device `device`'s reading `index` (one a second from `origin`): smooth temperature and humidity with a
    /// little noise, plus a planted spike where `spikes` says.
    func payload(device: Int, index: Int, origin: Int64, random: inout SplitMix64, spikes: [Int: Int]) -> [UInt8] {
        let seconds = Double(index)
        let phase = Double(device) * 0.7
        var temperature = 20 + 3 * sin(seconds / 900 + phase) + 0.05 * (random.unit() - 0.5)
        let humidity = 50 + 8 * cos(seconds / 1_300 + phase) + 0.2 * (random.unit() - 0.5)
        if spikes[device] == index { temperature += 6 }
        return Array(#"{"ts":\#(origin + Int64(index) * 1000),"temperature":\#(temperature),"humidity":\#(humidity)}"#.utf8)
    }

    /// Publishes every device's readings at QoS 1: the first `live` in step, as measured; the rest as a backlog
    /// drained at full speed, each device sending chunks of random length, so devices run ahead of one another.
    func publish(
        _ publisher: MQTTClient, prefix: String, count: Int, live: Int, origin: Int64, skip: (Int, Int) -> Bool = { _, _ in false },
        spikes: [Int: Int] = [:]
    ) async throws -> Int {
        var random = SplitMix64(seed: 21)
        var next = [Int](repeating: live, count: Self.devices)
        var sent = 0
        func send(_ device: Int, _ index: Int) throws {
            guard !skip(device, index) else { return }
            try publisher.publish(
                topic: "\(prefix)/devices/d\(device)/telemetry",
                payload: payload(device: device, index: index, origin: origin, random: &random, spikes: spikes), qos: .atLeastOnce
            )
            sent += 2
        }
        for index in 0..<live {
            for device in 0..<Self.devices { try send(device, index) }
            if index % 20 == 0 { await Task.yield() }
        }
        while next.contains(where: { $0 < count }) {
            let device = Int(random.next() % UInt64(Self.devices))
            guard next[device] < count, next[device] - next.min()! < 300 else { continue }
            for _ in 0..<(1 + Int(random.next() % 40)) where next[device] < count {
                try send(device, next[device])
                next[device] += 1
            }
            await Task.yield()
        }
        try await publisher.publishAndWait(topic: "\(prefix)/devices/marker/telemetry", payload: Array(#"{"ts":\#(origin),"level":-1}"#.utf8))
        return sent
    }

    func connectedPublisher(_ gateway: GatewayUnderTest) async throws -> MQTTClient {
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port, maxInflightMessages: 100), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        return publisher
    }

    /// An hour ago, on a whole second, in milliseconds: readings then run towards now.
    static func origin() -> Int64 {
        (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 3600) * 1000
    }

    func caughtUp(_ gateway: GatewayUnderTest, readings: Int) async -> Bool {
        await gateway.eventually(timeout: .seconds(60)) {
            let rolled = try await gateway.scalar("SELECT coalesce(sum(count), 0)::bigint FROM kappa.rollups_1m WHERE device <> 'marker'")
            let lag = try await gateway.metrics().total("kappa_processor_lag_records")
            return rolled == Int64(readings) && lag == 0
        }
    }

    func episodes(_ gateway: GatewayUnderTest) async throws -> [AnomalyEpisode] {
        try await gateway.withDatabase { connection in
            try await connection.query("SELECT device, metric, detector, start_time, detected_at, end_time, peak_score, severity FROM kappa.anomalies WHERE device <> 'marker'").map { row in
                AnomalyEpisode(
                    device: try row["device"].string, metric: try row["metric"].string,
                    detector: try #require(AnomalyDetector(name: try row["detector"].string)),
                    startTime: try row["start_time"].timestamp, detectedAt: try row["detected_at"].timestamp,
                    endTime: row["end_time"].isNull ? nil : try row["end_time"].timestamp,
                    peakScore: try row["peak_score"].double, value: nil, expectedLow: nil, expectedHigh: nil,
                    severity: try row["severity"].string == "critical" ? .critical : .warning
                )
            }
        }
    }

    @Test("a fleet's backlog drained in a burst after an outage: only the planted spikes, no gap")
    func burstRaisesOnlyThePlantedAnomalies() async throws {
        try await GatewayUnderTest.withFresh(name: "anomaly_burst") { gateway in
            let process = try await gateway.start()
            let publisher = try await connectedPublisher(gateway)
            defer { publisher.disconnect() }
            let origin = Self.origin()
            let spikes = [3: 900, 7: 1_100, 12: 1_300]
            let readings = try await publish(publisher, prefix: gateway.topicPrefix, count: 1_500, live: 400, origin: origin, spikes: spikes)
            #expect(await caughtUp(gateway, readings: readings), "\(process.output.suffix(2000))")
            let found = try await episodes(gateway)
            for (device, index) in spikes {
                let at = Timestamp(nanosecondsSinceEpoch: (origin + Int64(index) * 1000) * 1_000_000)
                #expect(found.contains { $0.device == "d\(device)" && $0.startTime <= at && ($0.endTime ?? at) >= at }, "d\(device) at \(index): \(found)")
            }
            let unplanted = found.filter { episode in
                guard let device = Int(episode.device.dropFirst()), let index = spikes[device] else { return true }
                let at = (origin + Int64(index) * 1000) * 1_000_000
                return abs(episode.startTime.nanosecondsSinceEpoch - at) > 60_000_000_000
            }
            #expect(unplanted.isEmpty, "\(unplanted)")
            #expect(found.allSatisfy { $0.detector != .gap })
        }
    }

    @Test("a device falling silent while the others go on is one device-level gap episode")
    func silentDeviceIsOneEpisode() async throws {
        try await GatewayUnderTest.withFresh(name: "anomaly_silent") { gateway in
            let process = try await gateway.start()
            let publisher = try await connectedPublisher(gateway)
            defer { publisher.disconnect() }
            let origin = Self.origin()
            // Device 5 stops after 600 s; everyone is sent live, in step.
            let readings = try await publish(publisher, prefix: gateway.topicPrefix, count: 900, live: 900, origin: origin, skip: { device, index in
                device == 5 && index >= 600
            })
            #expect(await caughtUp(gateway, readings: readings), "\(process.output.suffix(2000))")
            let gaps = try await episodes(gateway).filter { $0.detector == .gap }
            #expect(gaps.count == 1, "\(gaps)")
            #expect(gaps.first?.device == "d5" && gaps.first?.metric == AnomalyEpisode.wholeDevice)
            #expect(gaps.first?.startTime == Timestamp(nanosecondsSinceEpoch: (origin + 599 * 1000) * 1_000_000))
        }
    }
}
