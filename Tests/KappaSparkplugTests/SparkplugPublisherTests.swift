import KappaCore
import KappaSparkplug
import Testing

@Suite("Sparkplug edge node publisher")
struct SparkplugPublisherTests {
    let start = Timestamp(millisecondsSinceEpoch: 1_764_500_000_000)

    func decode(_ message: SparkplugEdgeNodePublisher.Message, into session: inout SparkplugSession) throws -> SparkplugOutcome {
        let topic = try #require(SparkplugTopic(message.topic))
        return session.receive(topic: topic, payload: message.payload, receivedAt: start)
    }

    @Test("what an edge node publishes decodes to the readings it was given, across 300 messages of seq")
    func roundTrip() throws {
        var publisher = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"), birthSequence: 7)
        var session = SparkplugSession()
        let birth = try decode(publisher.nodeBirth([("Supply/Voltage", 230)], at: start), into: &session)
        #expect(birth.readings.map(\.metric) == ["Supply/Voltage"])
        let deviceBirth = try decode(publisher.deviceBirth("boiler", [("Temperature", 80), ("Pressure", 1.5)], at: start), into: &session)
        #expect(deviceBirth.readings.map(\.device) == ["plant/edge-1/boiler", "plant/edge-1/boiler"])

        var expected: [Reading] = []
        var decoded: [Reading] = []
        for step in 1...300 {
            let time = start.adding(nanoseconds: Int64(step) * 1_000_000_000)
            let readings = [("Temperature", 80 + Double(step) / 10, time), ("Pressure", 1.5 + Double(step % 7) / 100, time)]
            expected += readings.map { Reading(device: "plant/edge-1/boiler", metric: $0.0, time: $0.2, value: $0.1) }
            let outcome = try decode(publisher.data("boiler", readings, at: time), into: &session)
            #expect(outcome.problems.isEmpty)
            #expect(outcome.sequenceGap == nil, "step \(step)")
            decoded += outcome.readings
        }
        #expect(decoded == expected)

        // An undeclared metric goes by name; the node's own data by the node's aliases.
        let node = try decode(publisher.data(nil, [("Supply/Voltage", 229, start), ("Uptime", 60, start)], at: start), into: &session)
        #expect(node.readings.map(\.metric) == ["Supply/Voltage", "Uptime"])
        #expect(node.readings.map(\.device) == ["plant/edge-1", "plant/edge-1"])

        let death = try decode(publisher.nodeDeath(), into: &session)
        #expect(death.offline == ["plant/edge-1", "plant/edge-1/boiler"])
        #expect(!death.staleDeath)
    }

    @Test("a new session's birth drops the old aliases; the old session's will is then stale")
    func rebirth() throws {
        let edgeNode = SparkplugEdgeNode(group: "plant", node: "edge-2")
        var first = SparkplugEdgeNodePublisher(edgeNode: edgeNode, birthSequence: 1)
        var second = SparkplugEdgeNodePublisher(edgeNode: edgeNode, birthSequence: 2)
        var session = SparkplugSession()
        _ = try decode(first.nodeBirth([("a", 1)], at: start), into: &session)
        _ = try decode(second.nodeBirth([("b", 2)], at: start), into: &session)
        let stale = try decode(first.nodeDeath(), into: &session)
        #expect(stale.staleDeath)
        let data = try decode(second.data(nil, [("b", 3, start)], at: start), into: &session)
        #expect(data.readings.map(\.value) == [3])
    }
}
