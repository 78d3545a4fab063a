import KappaCore

/// Every birth the log kept, by edge node and session, to decode a Sparkplug message that was dead-lettered
/// for want of a birth (`sparkplug_no_birth`) with the births that answered it: `kappa dead-letters replay`.
///
/// A node's session (an *epoch*) is its NBIRTH and the certificates after it, up to its next NBIRTH. A
/// message received at time t is tried with the epoch in force at t (a DBIRTH later in it may declare the
/// device), then with the next one (the rebirth the dead letter asked for), each fed whole to a fresh session.
public struct SparkplugBirthHistory: Sendable {
    private struct Message: Sendable {
        var topic: SparkplugTopic
        var payload: [UInt8]
        var receivedAt: Timestamp
    }

    private var epochs: [SparkplugEdgeNode: [[Message]]] = [:]

    public init() {}

    /// Adds one lifecycle message; give them in log order per edge node.
    public mutating func add(topic: String, payload: [UInt8], receivedAt: Timestamp) {
        guard let topic = SparkplugTopic(topic) else { return }
        let message = Message(topic: topic, payload: payload, receivedAt: receivedAt)
        if topic.messageType == .nodeBirth {
            epochs[topic.edgeNode, default: []].append([message])
        } else if epochs[topic.edgeNode]?.isEmpty == false {
            epochs[topic.edgeNode]![epochs[topic.edgeNode]!.count - 1].append(message)
        }
    }

    /// The readings of a data message received at `receivedAt`, or nil when no kept birth resolves all of it.
    public func readings(topic: String, payload: [UInt8], receivedAt: Timestamp) -> [Reading]? {
        guard let topic = SparkplugTopic(topic), topic.messageType == .nodeData || topic.messageType == .deviceData,
              let sessions = epochs[topic.edgeNode]
        else { return nil }
        let inForce = sessions.lastIndex { $0[0].receivedAt <= receivedAt }
        let next = sessions.firstIndex { $0[0].receivedAt > receivedAt }
        for index in [inForce, next].compactMap({ $0 }) {
            var session = SparkplugSession()
            for message in sessions[index] {
                _ = session.receive(topic: message.topic, payload: message.payload, receivedAt: message.receivedAt)
            }
            session.forgetExpectedSequences()
            let outcome = session.receive(topic: topic, payload: payload, receivedAt: receivedAt)
            if outcome.problems.isEmpty && !outcome.readings.isEmpty { return outcome.readings }
        }
        return nil
    }
}
