import KappaCore

/// Rebuilds a ``SparkplugSession`` from the births and deaths the log kept (the `sparkplug-lifecycle`
/// stream), so that after a restart data is resolved through the aliases of births received before it.
///
/// Give it every lifecycle message in log order per edge node (the stream is keyed by edge node, so reading
/// each partition in order is enough). It keeps, per edge node, only the messages from the node's latest
/// NBIRTH on: an NBIRTH replaces everything before it (the node's aliases, `bdSeq` and devices), so what came
/// earlier cannot change the session. Memory is that suffix; time is one pass over the stream.
public struct SparkplugSessionRestore: Sendable {
    private struct Message: Sendable {
        var topic: SparkplugTopic
        var payload: [UInt8]
        var receivedAt: Timestamp
    }

    private var sinceLastNodeBirth: [SparkplugEdgeNode: [Message]] = [:]
    /// Messages read, and messages that will be fed to the session (those from each node's latest NBIRTH).
    public private(set) var messagesRead = 0
    public var messagesKept: Int { sinceLastNodeBirth.values.reduce(0) { $0 + $1.count } }

    public init() {}

    public mutating func add(topic: String, payload: [UInt8], receivedAt: Timestamp) {
        messagesRead += 1
        guard let topic = SparkplugTopic(topic) else { return }
        if topic.messageType == .nodeBirth {
            sinceLastNodeBirth[topic.edgeNode] = [Message(topic: topic, payload: payload, receivedAt: receivedAt)]
        } else if sinceLastNodeBirth[topic.edgeNode] != nil {
            // Without a kept NBIRTH the session ignores the node's messages anyway.
            sinceLastNodeBirth[topic.edgeNode]!.append(Message(topic: topic, payload: payload, receivedAt: receivedAt))
        }
    }

    /// The session the kept messages lead to, outcomes discarded. The next `seq` of each node is unknown (data
    /// messages are not in the lifecycle stream), so the first data message after a restore is no gap.
    public func session() -> SparkplugSession {
        var session = SparkplugSession()
        for messages in sinceLastNodeBirth.values {
            for message in messages {
                _ = session.receive(topic: message.topic, payload: message.payload, receivedAt: message.receivedAt)
            }
        }
        session.forgetExpectedSequences()
        return session
    }
}

extension SparkplugSession {
    /// Forgets the `seq` each edge node is expected to send next: the next data message sets it.
    mutating func forgetExpectedSequences() {
        for node in nodes.keys { nodes[node]!.expectedSequence = nil }
    }
}
