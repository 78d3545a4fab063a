import KappaCore
@testable import KappaSimulator
@testable import KappaSparkplug
import SwiftProtobuf
import Testing

/// The fleet as Sparkplug B edge nodes, encoded as the publisher encodes it and decoded by the gateway's
/// `SparkplugSession` (with the payload limit the bridge applies first).
@Suite("Fleet: the sparkplug format")
struct SparkplugFleetTests {
    let decoder = PayloadDecoder()

    /// Encodes messages in send order, one `SimulatedEdgeNode` per edge node, as `MQTTFleetPublisher` does.
    struct Encoder {
        var nodes: [SparkplugEdgeNode: SimulatedEdgeNode] = [:]

        mutating func encode(_ message: SimulatedMessage) throws -> [SimulatedMessage] {
            let content = try #require(message.sparkplug)
            var node = nodes[content.edgeNode] ?? SimulatedEdgeNode(edgeNode: content.edgeNode)
            defer { nodes[content.edgeNode] = node }
            return try node.encode(message)
        }
    }

    func decode(_ message: SimulatedMessage, _ session: inout SparkplugSession) throws -> SparkplugOutcome {
        let topic = try #require(SparkplugTopic(message.topic), "\(message.topic)")
        if let problem = decoder.sizeProblem(payloadBytes: message.payload.count) {
            var outcome = SparkplugOutcome()
            outcome.problems = [problem]
            return outcome
        }
        return session.receive(topic: topic, payload: message.payload, receivedAt: message.sendTime)
    }

    @Test("ticks become readings through births and aliased data; bad messages fail for the labelled reason; no seq gap")
    func decodes() throws {
        let messages = Fleet.generate(Scenarios.everything(format: .sparkplug), limit: 20_000).messages
        var encoder = Encoder()
        var session = SparkplugSession()
        var good = 0, bad = 0
        for message in messages {
            let outputs = try encoder.encode(message)
            var readings: [Reading] = []
            var problems: [DecodeProblem] = []
            for output in outputs {
                let outcome = try decode(output, &session)
                #expect(outcome.sequenceGap == nil, "\(output.topic)")
                readings += outcome.readings
                problems += outcome.problems
            }
            if message.isBad {
                let expected = try #require(message.labels.first { $0.kind == .chaos(message.chaos!) }?.reason)
                #expect(readings.isEmpty)
                #expect(problems.map(\.reason) == [expected], "\(problems)")
                bad += 1
            } else {
                #expect(problems.isEmpty, "\(message.topic): \(problems)")
                #expect(readings == message.readings)
                #expect(outputs.flatMap(\.readings) == message.readings)
                good += 1
            }
        }
        #expect(good > 1_000 && bad > 0)
        #expect(Set(messages.map(\.device)).allSatisfy { $0.hasPrefix("kappa-sim/edge-0000/") || $0.hasPrefix("kappa-sim/edge-0001/") })
    }

    @Test("an edge node sends NBIRTH (bdSeq, seq 0), a DBIRTH per device declaring aliases, then DDATA by alias with seq +1")
    func messageStructure() throws {
        let scenario = FleetScenario(seed: 9, deviceCount: 4, start: Scenarios.start, end: Scenarios.start.adding(nanoseconds: 3_600 * 1_000_000_000),
                                     format: .sparkplug, sparkplug: SparkplugFleetLayout(group: "plant", devicesPerEdgeNode: 4))
        var node = SimulatedEdgeNode(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-0000"), birthSequence: 3)
        let outputs = try Fleet.generate(scenario, limit: 400).messages.flatMap { try node.encode($0) }
        let payloads = try outputs.map { try Kappa_Sparkplug_Payload(serializedBytes: $0.payload) }
        #expect(outputs.first?.topic == "spBv1.0/plant/NBIRTH/edge-0000")
        #expect(payloads.first?.metrics.first { $0.name == "bdSeq" }?.longValue == 3)
        #expect(payloads.first?.metrics.contains { $0.name == "Node Control/Rebirth" } == true)
        #expect(payloads.map(\.seq) == (0..<UInt64(outputs.count)).map { $0 % 256 })
        var born: Set<String> = []
        for (output, payload) in zip(outputs, payloads).dropFirst() {
            let topic = try #require(SparkplugTopic(output.topic))
            let device = try #require(topic.device)
            if born.insert(device).inserted {
                #expect(topic.messageType == .deviceBirth)
                let kind = try #require(DeviceKind.allCases.first { device.hasPrefix($0.rawValue + "-") })
                #expect(payload.metrics.map(\.name) == kind.metrics.map(\.name))
                #expect(payload.metrics.allSatisfy { $0.hasAlias && $0.datatype == SparkplugDataType.double.rawValue })
            } else {
                #expect(topic.messageType == .deviceData)
                #expect(payload.metrics.allSatisfy { $0.hasAlias && !$0.hasName && $0.timestamp > 0 })
            }
        }
        #expect(born.count == 4)
        let death = try Kappa_Sparkplug_Payload(serializedBytes: try node.death().payload)
        #expect(death.metrics.first { $0.name == "bdSeq" }?.longValue == 3)
        #expect(!death.hasSeq)
    }

    @Test("a rebirth request republishes NBIRTH and every known device's DBIRTH before the next data; a new session takes the next bdSeq")
    func rebirth() throws {
        let scenario = FleetScenario(seed: 9, deviceCount: 3, start: Scenarios.start, end: Scenarios.start.adding(nanoseconds: 3_600 * 1_000_000_000),
                                     format: .sparkplug, sparkplug: SparkplugFleetLayout(group: "plant", devicesPerEdgeNode: 3))
        let messages = Fleet.generate(scenario, limit: 60).messages
        var node = SimulatedEdgeNode(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-0000"))
        var session = SparkplugSession()
        for message in messages.prefix(30) {
            #expect(message.sparkplug?.isTick == true)
            for output in try node.encode(message) { #expect(try decode(output, &session).problems.isEmpty) }
        }
        node.requestRebirth()
        let afterRequest = try node.encode(messages[30])
        // The tick's own device is born with the tick's values: its DBIRTH carries the tick's readings.
        #expect(afterRequest.map { SparkplugTopic($0.topic)!.messageType } == [.nodeBirth, .deviceBirth, .deviceBirth, .deviceBirth])
        #expect(Set(afterRequest.compactMap { SparkplugTopic($0.topic)!.device }) == Set(messages.compactMap { $0.sparkplug?.device }))
        #expect(afterRequest.last?.sparkplug?.device == messages[30].sparkplug?.device)
        #expect(afterRequest.dropLast().allSatisfy { $0.readings.isEmpty })
        #expect(afterRequest.last?.readings == messages[30].readings)
        // A host that had lost the node's aliases (a fresh session) decodes everything from the rebirth on.
        var fresh = SparkplugSession()
        for output in afterRequest {
            let outcome = try decode(output, &fresh)
            #expect(outcome.problems.isEmpty && !outcome.rebirthNeeded)
        }

        node.startNewSession()
        let afterReconnect = try node.encode(messages[31])
        let birth = try Kappa_Sparkplug_Payload(serializedBytes: afterReconnect[0].payload)
        #expect(birth.metrics.first { $0.name == "bdSeq" }?.longValue == 1)
        #expect(birth.seq == 0)
        for output in afterReconnect { #expect(try decode(output, &fresh).problems.isEmpty) }
        #expect(fresh.isOnline(node.edgeNode))
    }
}
