/// One thing wrong with a message: the whole of it, or one field, object or line of it.
///
/// Readings decoded from the rest of the message are kept; the bridge dead-letters the message once per
/// problem, with `reason` as the counted code and `message` as the human explanation.
public struct DecodeProblem: Hashable, Sendable, CustomStringConvertible {
    public var reason: DeadLetterReason
    /// What was wrong, precisely: the field, the value's kind, the byte offset of a syntax error.
    /// Never contains more than a short excerpt of the payload.
    public var message: String
    /// The field (metric name, or `ts`) the problem concerns, where there is one.
    public var field: String?
    /// Byte offset into the payload where the problem was found, where it is meaningful.
    public var byteOffset: Int?

    public init(reason: DeadLetterReason, message: String, field: String? = nil, byteOffset: Int? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
        self.byteOffset = byteOffset
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}

extension DecodeProblem {
    /// The problem for a message whose topic no route matches (`TopicRouter.match` returned nil).
    public static func unknownTopic(_ topic: String, filters: [String]) -> DecodeProblem {
        var shown = topic.prefix(200)
        if shown.count < topic.count { shown += "…" }
        return DecodeProblem(
            reason: .unknownTopic,
            message: "topic '\(shown)' matches no topic template (subscribed filters: \(filters.joined(separator: ", ")))"
        )
    }
}

extension DecodeProblem {
    /// The problem for an object or line whose event time lies outside the accepted window.
    static func timestampOutOfRange(
        _ time: Timestamp, receivedAt: Timestamp, rejected: Int, subject: String, field: String, byteOffset: Int
    ) -> DecodeProblem {
        DecodeProblem(
            reason: .timestampOutOfRange,
            message: "\(subject) \(time) is outside the accepted window around the receive time \(receivedAt); \(rejected) reading(s) rejected",
            field: field, byteOffset: byteOffset
        )
    }
}
