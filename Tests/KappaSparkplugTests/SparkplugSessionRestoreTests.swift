import KappaCore
@testable import KappaSparkplug
import Testing

/// The session rebuilt from the births and deaths the log kept must resolve data as the live session did.
@Suite("Sparkplug session restored from births and deaths")
struct SparkplugSessionRestoreTests {
    let start = Timestamp(millisecondsSinceEpoch: 1_764_500_000_000)

    func at(_ seconds: Int64) -> Timestamp { start.adding(nanoseconds: seconds * 1_000_000_000) }

    func describe(_ readings: [Reading]) -> [String] {
        readings.map { "\($0.device) \($0.metric) \($0.time) \($0.value)" }
    }

    @Test("births kept, data after the restore resolves exactly as live; its first seq is no gap")
    func restoredSessionDecodesLikeTheLiveOne() throws {
        var edge = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"), birthSequence: 2)
        let lifecycle = [
            try edge.nodeBirth([("Voltage", 230)], at: at(0)),
            try edge.deviceBirth("boiler", [("Temperature", 80), ("Pressure", 1.5)], at: at(0)),
        ]
        // Data the live session saw between the births and the restart: not in the lifecycle stream.
        let before = try (1...5).map { step in try edge.data("boiler", [("Temperature", 80 + Double(step), at(Int64(step)))], at: at(Int64(step))) }
        let after = try (6...8).map { step in try edge.data("boiler", [("Temperature", 80 + Double(step), at(Int64(step))), ("Pressure", Double(step), at(Int64(step)))], at: at(Int64(step))) }

        var live = SparkplugSession()
        for message in lifecycle + before { _ = live.receive(topic: SparkplugTopic(message.topic)!, payload: message.payload, receivedAt: at(0)) }
        var restore = SparkplugSessionRestore()
        for message in lifecycle { restore.add(topic: message.topic, payload: message.payload, receivedAt: at(0)) }
        var restored = restore.session()

        for message in after {
            let topic = SparkplugTopic(message.topic)!
            let expected = live.receive(topic: topic, payload: message.payload, receivedAt: at(9))
            let outcome = restored.receive(topic: topic, payload: message.payload, receivedAt: at(9))
            #expect(describe(outcome.readings) == describe(expected.readings))
            #expect(outcome.problems.isEmpty)
            #expect(outcome.sequenceGap == nil, "the first data after a restore has no expected seq")
            #expect(!outcome.rebirthNeeded)
        }
        // Once the first data set it, a real gap is seen again.
        _ = try edge.data("boiler", [("Temperature", 1, at(10))], at: at(10))
        let skipped = try edge.data("boiler", [("Temperature", 2, at(11))], at: at(11))
        #expect(restored.receive(topic: SparkplugTopic(skipped.topic)!, payload: skipped.payload, receivedAt: at(11)).sequenceGap != nil)
    }

    @Test("only each node's latest NBIRTH and what follows are fed; an accepted NDEATH leaves the node dead")
    func latestBirthOnwardPerNode() throws {
        var first = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"), birthSequence: 1)
        var second = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-1"), birthSequence: 2)
        var other = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-2"), birthSequence: 7)
        var restore = SparkplugSessionRestore()
        let messages = [
            try first.nodeBirth([("Old", 1)], at: at(0)),
            try first.deviceBirth("boiler", [("OldTemperature", 1)], at: at(0)),
            try other.nodeBirth([("Flow", 3)], at: at(1)),
            try second.nodeBirth([("Voltage", 230)], at: at(2)),
            try first.nodeDeath(),  // bdSeq 1: a late will of the first session, must not kill the second
            try other.nodeDeath(),
        ]
        for message in messages { restore.add(topic: message.topic, payload: message.payload, receivedAt: at(3)) }
        #expect(restore.messagesRead == 6)
        #expect(restore.messagesKept == 4)  // edge-1: its second NBIRTH, the stale NDEATH; edge-2: NBIRTH, NDEATH
        var session = restore.session()
        #expect(session.isOnline(SparkplugEdgeNode(group: "plant", node: "edge-1")))
        #expect(!session.isOnline(SparkplugEdgeNode(group: "plant", node: "edge-2")))
        // The first session's device was dropped by the second NBIRTH: its data asks for a birth.
        let stale = try first.data("boiler", [("OldTemperature", 2, at(4))], at: at(4))
        #expect(session.receive(topic: SparkplugTopic(stale.topic)!, payload: stale.payload, receivedAt: at(4)).problems.map(\.reason) == [.sparkplugNoBirth])
        let data = try second.data(nil, [("Voltage", 231, at(5))], at: at(5))
        #expect(describe(session.receive(topic: SparkplugTopic(data.topic)!, payload: data.payload, receivedAt: at(5)).readings) == ["plant/edge-1 Voltage \(at(5)) 231.0"])
    }
}
