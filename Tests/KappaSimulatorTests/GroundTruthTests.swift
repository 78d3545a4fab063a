import KappaCore
import KappaSimulator
import Testing

@Suite("Fleet: injected anomalies and faults are labelled and visible")
struct GroundTruthTests {
    @Test("every anomaly kind and every fault appears in the ground truth and in the stream")
    func everyKindAppears() {
        let (messages, labels) = Fleet.generate(Scenarios.everything(), limit: 1_000_000)
        let kinds = Set(labels.map(\.kind))
        for kind in AnomalyKind.allCases {
            #expect(kinds.contains(.anomaly(kind)), "no \(kind.rawValue) label")
        }
        for kind in ChaosKind.allCases {
            #expect(kinds.contains(.chaos(kind)), "no \(kind.rawValue) label")
        }
        for kind in ChaosKind.allCases where kind != .clockSkew {
            let labelled = labels.filter { $0.kind == .chaos(kind) }.count
            let sent = messages.filter { $0.chaos == kind }.count
            #expect(sent == labelled && sent > 0, "\(kind.rawValue): \(sent) messages, \(labelled) labels")
        }
    }

    @Test("a duplicate repeats its original; late and out-of-order messages are sent after their event time")
    func faultsInTheStream() throws {
        let messages = Fleet.generate(Scenarios.everything(), limit: 1_000_000).messages
        for (position, message) in messages.enumerated() where message.chaos == .duplicate {
            #expect(messages[..<position].contains { $0.payload == message.payload && $0.topic == message.topic && $0.chaos == nil })
        }
        let late = messages.filter { $0.chaos == .late }
        #expect(late.allSatisfy { $0.sendTime.nanosecondsSinceEpoch - $0.eventTime.nanosecondsSinceEpoch >= 30_000_000_000 })
        for (position, message) in messages.enumerated() where message.chaos == .outOfOrder {
            // The device's next message went out first.
            let device = try #require(message.readings.first?.device)
            let previous = try #require(messages[..<position].last { $0.readings.first?.device == device && $0.chaos == nil })
            #expect(previous.eventTime > message.eventTime)
        }
    }

    @Test("clock skew shifts the payload timestamps by the labelled offset during the labelled period")
    func clockSkew() throws {
        let (messages, labels) = Fleet.generate(Scenarios.everything(), limit: 1_000_000)
        let skews = labels.filter { $0.kind == .chaos(.clockSkew) }
        #expect(!skews.isEmpty)
        for label in skews {
            let offset = try #require(label.offsetMilliseconds)
            let affected = messages.filter {
                $0.chaos == nil && $0.readings.first?.device == label.device && $0.eventTime >= label.start && $0.eventTime <= label.end
            }
            #expect(!affected.isEmpty)
            for message in affected {
                #expect(message.readings[0].time.nanosecondsSinceEpoch - message.eventTime.nanosecondsSinceEpoch == offset * 1_000_000)
            }
        }
    }

    @Test("labelled anomalies are visible in the values")
    func anomaliesAreVisible() throws {
        let (messages, labels) = Fleet.generate(Scenarios.anomaliesOnly(), limit: 1_000_000)
        let readings = messages.flatMap(\.readings)
        let series = Dictionary(grouping: readings, by: { "\($0.device)/\($0.metric)" })
        let models = Dictionary(DeviceKind.allCases.flatMap(\.metrics).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var checked: [String: Int] = [:]
        for label in labels {
            if label.kind == .anomaly(.dropout) {
                let silent = readings.filter { $0.device == label.device && $0.time >= label.start && $0.time <= label.end }
                #expect(silent.isEmpty, "\(label.jsonLine)")
                checked[label.kind.name, default: 0] += 1
                continue
            }
            let values = try #require(series["\(label.device)/\(label.metric)"])
            let model = try #require(models[label.metric])
            let inside = values.filter { $0.time >= label.start && $0.time <= label.end }.map(\.value)
            let before = values.filter { $0.time < label.start }.suffix(5).map(\.value)
            guard before.count == 5, !inside.isEmpty else { continue }
            let baseline = before.sorted()[2]
            switch label.kind {
            case .anomaly(.spike), .anomaly(.dip):
                #expect(inside.count == 1)
                #expect(abs(inside[0] - baseline) > model.anomalyScale, "\(label.jsonLine): \(inside[0]) against \(baseline)")
            case .anomaly(.levelShift):
                let mean = inside.reduce(0, +) / Double(inside.count)
                #expect(abs(mean - baseline) > 0.5 * model.anomalyScale, "\(label.jsonLine)")
            case .anomaly(.drift):
                #expect(abs(inside.last! - baseline) > model.anomalyScale, "\(label.jsonLine)")
            case .anomaly(.stuck):
                #expect(inside.count >= 10 && Set(inside).count == 1, "\(label.jsonLine)")
            case .anomaly(.noiseBurst):
                let steps = zip(inside, inside.dropFirst()).map { abs($1 - $0) }
                #expect(steps.max()! > 10 * model.noise, "\(label.jsonLine)")
            default:
                Issue.record("unexpected label \(label.jsonLine)")
            }
            checked[label.kind.name, default: 0] += 1
        }
        for kind in AnomalyKind.allCases {
            #expect(checked[kind.rawValue, default: 0] > 0, "no \(kind.rawValue) checked")
        }
    }

    @Test("labels are JSON lines with RFC 3339 UTC times")
    func labelFormat() {
        let label = GroundTruthLabel(
            device: "env-00042", metric: "temperature", kind: .anomaly(.spike),
            start: Timestamp(secondsSinceEpoch: 1_795_600_800), end: Timestamp(secondsSinceEpoch: 1_795_600_800)
        )
        #expect(label.jsonLine == #"{"device":"env-00042","metric":"temperature","kind":"spike","start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:00:00Z"}"#)
        let bad = GroundTruthLabel(
            device: "env-00001", metric: "*", kind: .chaos(.malformed), start: Timestamp(millisecondsSinceEpoch: 1_795_600_800_250),
            end: Timestamp(millisecondsSinceEpoch: 1_795_600_800_250), topic: "t/\"x\"", reason: .malformedJSON
        )
        #expect(bad.jsonLine == #"{"device":"env-00001","metric":"*","kind":"malformed","start":"2026-11-25T10:00:00.25Z","end":"2026-11-25T10:00:00.25Z","topic":"t/\"x\"","reason":"malformed_json"}"#)
    }
}
