/// A message, or part of one, that could not become readings: what the dead-letter stream holds.
public struct DeadLetter: Hashable, Sendable {
    public var topic: String
    /// The payload exactly as received.
    public var payload: [UInt8]
    public var receivedAt: Timestamp
    public var reason: DeadLetterReason
    public var message: String

    public init(topic: String, payload: [UInt8], receivedAt: Timestamp, reason: DeadLetterReason, message: String) {
        self.topic = topic
        self.payload = payload
        self.receivedAt = receivedAt
        self.reason = reason
        self.message = message
    }

    /// The dead letter for one problem found while decoding the message.
    public init(topic: String, payload: [UInt8], receivedAt: Timestamp, problem: DecodeProblem) {
        self.init(topic: topic, payload: payload, receivedAt: receivedAt, reason: problem.reason, message: problem.message)
    }
}
