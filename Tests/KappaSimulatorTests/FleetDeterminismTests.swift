import KappaCore
import KappaSimulator
import Testing

@Suite("Fleet: determinism and fleet model")
struct FleetDeterminismTests {
    @Test("the same seed gives byte-identical messages and labels", arguments: TelemetryFormat.allCases)
    func sameSeedSameOutput(format: TelemetryFormat) {
        let first = Fleet.generate(Scenarios.everything(format: format), limit: 20_000)
        let second = Fleet.generate(Scenarios.everything(format: format), limit: 20_000)
        #expect(first.messages.count > 1_000)
        #expect(first.messages == second.messages)
        #expect(first.labels.map(\.jsonLine) == second.labels.map(\.jsonLine))
        #expect(!first.labels.isEmpty)
    }

    @Test("a different seed gives different messages and labels")
    func differentSeedDifferentOutput() {
        let first = Fleet.generate(Scenarios.everything(seed: 1), limit: 5_000)
        let second = Fleet.generate(Scenarios.everything(seed: 2), limit: 5_000)
        #expect(first.messages.map(\.payload) != second.messages.map(\.payload))
        #expect(first.labels.map(\.jsonLine) != second.labels.map(\.jsonLine))
    }

    @Test("device ids name their kind, metrics are snake_case, topics follow the default templates")
    func identities() throws {
        var scenario = Scenarios.anomaliesOnly()
        scenario.topicPrefix = "run-1"
        let messages = Fleet.generate(scenario, limit: 200).messages
        let ids = Set(messages.flatMap(\.readings).map(\.device))
        #expect(ids == Set((0..<9).map { scenario.deviceID($0) }))
        #expect(ids.contains("env-00000") && ids.contains("machine-00001") && ids.contains("power-00002"))
        for message in messages {
            let device = try #require(message.readings.first?.device)
            #expect(message.topic == "run-1/devices/\(device)/telemetry")
        }
        for metric in Set(messages.flatMap(\.readings).map(\.metric)) {
            #expect(metric.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(metric)")
        }
    }

    @Test("each device keeps its own cadence within the jitter, in send-time order")
    func cadence() {
        let messages = Fleet.generate(Scenarios.anomaliesOnly(), limit: 5_000).messages.filter { $0.labels.isEmpty }
        #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.sendTime <= $1.sendTime })
        let byDevice = Dictionary(grouping: messages, by: { $0.readings[0].device })
        for (device, own) in byDevice {
            let gaps = zip(own, own.dropFirst()).map { Double($1.eventTime.nanosecondsSinceEpoch - $0.eventTime.nanosecondsSinceEpoch) / 1e9 }
            // Cadence 5–10 s with 10 % jitter; a dropout anomaly leaves longer gaps, which are rare.
            let ordinary = gaps.filter { $0 >= 4.5 && $0 <= 11 }
            #expect(Double(ordinary.count) >= 0.9 * Double(gaps.count), "\(device): \(gaps.prefix(20))")
        }
    }

    @Test("energy counters never go down and follow the power drawn")
    func monotonicCounters() {
        let readings = Fleet.generate(Scenarios.anomaliesOnly(), limit: 20_000).messages.flatMap(\.readings)
        let energy = Dictionary(grouping: readings.filter { $0.metric == "energy_kwh" }, by: \.device)
        #expect(!energy.isEmpty)
        for (device, series) in energy {
            #expect(zip(series, series.dropFirst()).allSatisfy { $0.value <= $1.value }, "\(device)")
            #expect(series.last!.value > series.first!.value, "\(device) drew no energy")
        }
    }

    @Test("temperature follows a daily cycle and humidity moves against it")
    func dailyCycleAndCorrelation() throws {
        var scenario = Scenarios.anomaliesOnly()
        scenario.anomalyRate = 0
        scenario.end = Scenarios.start.adding(nanoseconds: 24 * 3_600 * 1_000_000_000)
        let readings = Fleet.generate(scenario, limit: 1_000_000).messages.flatMap(\.readings).filter { $0.device == "env-00000" }
        let temperature = readings.filter { $0.metric == "temperature" }.map(\.value)
        let humidity = readings.filter { $0.metric == "humidity" }.map(\.value)
        let range = try #require(temperature.max()) - temperature.min()!
        #expect(range > 3, "a day's temperature range of \(range)")
        #expect(correlation(temperature, humidity) < -0.8)
    }

    private func correlation(_ x: [Double], _ y: [Double]) -> Double {
        let mx = x.reduce(0, +) / Double(x.count), my = y.reduce(0, +) / Double(y.count)
        let cov = zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
        let vx = x.map { ($0 - mx) * ($0 - mx) }.reduce(0, +), vy = y.map { ($0 - my) * ($0 - my) }.reduce(0, +)
        return cov / (vx * vy).squareRoot()
    }
}
