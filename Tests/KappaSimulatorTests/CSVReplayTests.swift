import Foundation
import KappaCore
import KappaMQTT
import KappaSimulator
import KappaTestSupport
import Logging
import Testing

@Suite("CSV replay through a real broker", .timeLimit(.minutes(2)))
struct CSVReplayTests {
    let logger = Logger(label: "kappa.test.simulator")

    /// What a replayed JSON message carries: its topic, `ts` in milliseconds and the one metric's value.
    struct Delivered: Hashable {
        var topic: String
        var milliseconds: Int64
        var metric: String
        var value: Double
    }

    func decode(_ message: MQTTMessage) throws -> Delivered {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
        let milliseconds = try #require(object["ts"] as? NSNumber).int64Value
        let (metric, value) = try #require(object.first { $0.key != "ts" })
        return Delivered(topic: message.topic, milliseconds: milliseconds, metric: metric, value: try #require(value as? NSNumber).doubleValue)
    }

    /// Publishes `rows` at QoS 1 and returns what a subscriber received, in arrival order.
    func replay(_ rows: [CSVReplay.Row], prefix: String, pacing: Pacing) async throws -> (received: [MQTTMessage], statistics: RunStatistics) {
        let broker = try await MosquittoBroker.shared
        let (subscriber, collector) = try await subscribedCollector(broker, prefix: prefix, logger: logger)
        defer { subscriber.disconnect() }
        let statistics = RunStatistics()
        let publisher = MQTTFleetPublisher(
            options: PublishOptions(mqtt: MQTTConfiguration(host: "127.0.0.1", port: broker.port), qos: .atLeastOnce), statistics: statistics, logger: logger
        )
        try await publisher.connect()
        var run = SimulationRun(source: CSVReplay(rows: rows, topicPrefix: prefix), pacing: pacing, batchSize: 1_000)
        try await run.run(publisher: publisher, labels: nil)
        await collector.waitFor(count: rows.count)
        try await Task.sleep(for: .milliseconds(100))
        return (collector.received, statistics)
    }

    @Test("every row of a CSV with device and metric columns arrives with its device, metric, value and time")
    func fullColumns() async throws {
        let csv = """
        timestamp,value,device,metric
        2026-11-25T10:00:00Z,21.5,pump-00001,pressure
        2026-11-25T10:00:01.250Z,-3.75,pump-00002,flow
        1795600802,22,pump-00001,pressure
        1795600803000,0.125,pump-00002,temperature

        1795600804000000,1e3,pump-00001,pressure
        """
        let rows = try CSVReplay.parse(csv, defaultDevice: "unused", defaultMetric: "unused")
        try #require(rows.count == 5)
        let prefix = uniqueTopicPrefix("sim-csv")
        let (received, statistics) = try await replay(rows, prefix: prefix, pacing: .fast)
        #expect(statistics.acknowledged == 5)
        let base: Int64 = 1_795_600_800_000  // 2026-11-25T10:00:00Z in ms
        let expected = [
            Delivered(topic: "\(prefix)/devices/pump-00001/telemetry", milliseconds: base, metric: "pressure", value: 21.5),
            Delivered(topic: "\(prefix)/devices/pump-00002/telemetry", milliseconds: base + 1_250, metric: "flow", value: -3.75),
            Delivered(topic: "\(prefix)/devices/pump-00001/telemetry", milliseconds: base + 2_000, metric: "pressure", value: 22),
            Delivered(topic: "\(prefix)/devices/pump-00002/telemetry", milliseconds: base + 3_000, metric: "temperature", value: 0.125),
            Delivered(topic: "\(prefix)/devices/pump-00001/telemetry", milliseconds: base + 4_000, metric: "pressure", value: 1_000),
        ]
        #expect(try received.map(decode) == expected)
    }

    @Test("the minimal timestamp,value form takes the given device and metric; a speed factor paces by event time")
    func minimalFormPaced() async throws {
        // Five rows a simulated second apart, replayed at 20×: 200 ms of simulated time per wall second.
        let csv = (0..<5).map { "\(1_795_600_800 + $0),\(Double($0) * 1.5)" }.joined(separator: "\n")
        let rows = try CSVReplay.parse(csv, defaultDevice: "meter-00007", defaultMetric: "power")
        try #require(rows.count == 5)
        let prefix = uniqueTopicPrefix("sim-csv-minimal")
        let started = ContinuousClock.now
        let (received, statistics) = try await replay(rows, prefix: prefix, pacing: .realTime(speed: 20))
        let elapsed = ContinuousClock.now - started
        #expect(statistics.acknowledged == 5)
        let delivered = try received.map(decode)
        #expect(delivered.map(\.topic) == Array(repeating: "\(prefix)/devices/meter-00007/telemetry", count: 5))
        #expect(delivered.map(\.metric) == Array(repeating: "power", count: 5))
        #expect(delivered.map(\.value) == [0, 1.5, 3, 4.5, 6])
        #expect(delivered.map(\.milliseconds) == (0..<5).map { 1_795_600_800_000 + Int64($0) * 1_000 })
        // Pacing only ever waits: the last row is due 4 s / 20 = 200 ms after the first, so the run cannot
        // end sooner however fast or slow the machine is (no upper bound is asserted).
        #expect(elapsed >= .milliseconds(200))
    }

    @Test("CRLF line ends (a spreadsheet's export) read like LF ones")
    func crlf() throws {
        let text = "timestamp,value,device,metric\r\n1795600800,1.5,d-1,m\r\n1795600801,2.5\r\n"
        let rows = try CSVReplay.parse(text, defaultDevice: "d-0", defaultMetric: "v")
        #expect(rows.map(\.value) == [1.5, 2.5])
        #expect(rows.map(\.device) == ["d-1", "d-0"])
        #expect(rows.map(\.metric) == ["m", "v"])
    }

    @Test("a bad row is named by its line")
    func badRow() {
        let error = #expect(throws: SimulatorError.self) {
            try CSVReplay.parse("timestamp,value\n1795600800,1\n1795600801,abc\n", defaultDevice: "d", defaultMetric: "m")
        }
        #expect(error?.code == .invalidCSV)
        #expect(error?.message.hasPrefix("line 3") == true)
    }
}
