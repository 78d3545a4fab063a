import KappaCore
import KappaSparkplug
import Testing

/// Dead-lettered data decoded with the births the log kept: the session in force when it arrived, else the
/// rebirth that answered it.
@Suite("Sparkplug birth history (dead-letter replay)")
struct SparkplugBirthHistoryTests {
    let start = Timestamp(millisecondsSinceEpoch: 1_764_500_000_000)

    func at(_ seconds: Int64) -> Timestamp { start.adding(nanoseconds: seconds * 1_000_000_000) }

    @Test("data before the node's birth: the next NBIRTH's aliases; data before its device's DBIRTH: the DBIRTH later in the same session; nothing kept: nil")
    func picksTheAnsweringBirth() throws {
        let node = SparkplugEdgeNode(group: "plant", node: "edge-1")
        var first = SparkplugEdgeNodePublisher(edgeNode: node, birthSequence: 1)
        var second = SparkplugEdgeNodePublisher(edgeNode: node, birthSequence: 2)
        var history = SparkplugBirthHistory()
        // Session 1 declares Voltage as alias 1; session 2 declares Current as alias 1.
        let firstBirth = try first.nodeBirth([("Voltage", 230)], at: at(10))
        let pumpBirth = try first.deviceBirth("pump", [("Flow", 3)], at: at(30))
        let secondBirth = try second.nodeBirth([("Current", 5)], at: at(50))
        history.add(topic: firstBirth.topic, payload: firstBirth.payload, receivedAt: at(10))
        history.add(topic: pumpBirth.topic, payload: pumpBirth.payload, receivedAt: at(30))
        history.add(topic: secondBirth.topic, payload: secondBirth.payload, receivedAt: at(50))

        let beforeAnyBirth = try first.data(nil, [("Voltage", 231, at(5))], at: at(5))
        #expect(history.readings(topic: beforeAnyBirth.topic, payload: beforeAnyBirth.payload, receivedAt: at(5))?.map(\.metric) == ["Voltage"])
        let beforeDeviceBirth = try first.data("pump", [("Flow", 4, at(20))], at: at(20))
        #expect(history.readings(topic: beforeDeviceBirth.topic, payload: beforeDeviceBirth.payload, receivedAt: at(20))?.map(\.metric) == ["Flow"])
        let inSecondSession = try second.data(nil, [("Current", 6, at(60))], at: at(60))
        #expect(history.readings(topic: inSecondSession.topic, payload: inSecondSession.payload, receivedAt: at(60))?.map(\.metric) == ["Current"])

        var stranger = SparkplugEdgeNodePublisher(edgeNode: SparkplugEdgeNode(group: "plant", node: "edge-9"))
        _ = try stranger.nodeBirth([("Voltage", 1)], at: at(0))
        let unknown = try stranger.data(nil, [("Voltage", 2, at(1))], at: at(1))
        #expect(history.readings(topic: unknown.topic, payload: unknown.payload, receivedAt: at(1)) == nil)
    }
}
