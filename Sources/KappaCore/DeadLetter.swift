/// A message that could not (wholly) become readings: what the dead-letter stream holds, one per message.
///
/// The payload is kept whole up to a cap (`DeadLetter.payloadCap`); beyond it only a prefix is stored,
/// with the whole payload's size and SHA-256, so that any message the broker delivers (MQTT allows
/// 256 MB) can be dead-lettered within one log batch and acknowledged. A payload kept whole can be
/// replayed; a truncated one cannot.
public struct DeadLetter: Hashable, Sendable {
    public var topic: String
    /// The payload as received, or its first `payloadCap` bytes (see `isTruncated`).
    public var payload: [UInt8]
    /// The size of the whole payload as received.
    public var payloadSize: Int
    /// SHA-256 of the whole payload where `payload` is only a prefix of it; empty otherwise.
    public var payloadSHA256: [UInt8]
    public var receivedAt: Timestamp
    /// The first problem's reason: the counted code.
    public var reason: DeadLetterReason
    /// The problems, for people: one, or the first few and how many there were.
    public var message: String

    /// Payloads up to this many bytes are stored whole. It equals the default `maxPayloadBytes`, so every
    /// message the decoder looked into can be replayed; only payloads rejected for size lose their tail.
    public static let payloadCap = 256 * 1024
    /// How many problems a dead letter's message lists; the rest are counted.
    public static let listedProblems = 5
    /// Each listed problem's message is cut to this many bytes (field names in it can be long).
    public static let problemMessageBytes = 300

    public init(topic: String, payload: [UInt8], payloadSize: Int? = nil, payloadSHA256: [UInt8] = [], receivedAt: Timestamp, reason: DeadLetterReason, message: String) {
        self.topic = topic
        self.payload = payload
        self.payloadSize = payloadSize ?? payload.count
        self.payloadSHA256 = payloadSHA256
        self.receivedAt = receivedAt
        self.reason = reason
        self.message = message
    }

    /// The dead letter for one problem found while decoding the message.
    public init(topic: String, payload: [UInt8], receivedAt: Timestamp, problem: DecodeProblem) {
        self.init(topic: topic, payload: payload, receivedAt: receivedAt, problems: [problem])
    }

    /// The one dead letter for a message with `problems` (not empty): the first problem's reason, the
    /// first `listedProblems` messages, the payload capped at `cap` bytes.
    public init(topic: String, payload: UnsafeRawBufferPointer, receivedAt: Timestamp, problems: some Collection<DecodeProblem>, cap: Int = DeadLetter.payloadCap) {
        precondition(!problems.isEmpty, "a dead letter needs a problem")
        let cap = max(0, cap)
        let stored = payload.count <= cap ? Array(payload) : Array(payload[0..<cap])
        self.init(
            topic: topic, payload: stored, payloadSize: payload.count,
            payloadSHA256: payload.count <= cap ? [] : SHA256.hash(payload),
            receivedAt: receivedAt, reason: problems.first!.reason, message: Self.summary(of: problems)
        )
    }

    public init(topic: String, payload: [UInt8], receivedAt: Timestamp, problems: some Collection<DecodeProblem>, cap: Int = DeadLetter.payloadCap) {
        self = payload.withUnsafeBytes { DeadLetter(topic: topic, payload: $0, receivedAt: receivedAt, problems: problems, cap: cap) }
    }

    /// Whether `payload` is only a prefix of what was received.
    public var isTruncated: Bool { payload.count < payloadSize }

    /// One problem's message as it is; several as `n problems: reason: message; …` listing the first few.
    static func summary(of problems: some Collection<DecodeProblem>) -> String {
        if problems.count == 1, let only = problems.first {
            return cut(only.message)
        }
        var text = "\(problems.count) problems"
        if problems.count > listedProblems { text += " (the first \(listedProblems) listed)" }
        text += ": "
        text += problems.prefix(listedProblems).map { "\($0.reason.rawValue): \(cut($0.message))" }.joined(separator: "; ")
        return text
    }

    /// The message cut to `problemMessageBytes`, control characters written as `\u{N}`: problem messages
    /// quote names from the payload, and a NUL in a `text` column would stop the dead-letter processor.
    private static func cut(_ message: String) -> String {
        var text = message
        if text.unicodeScalars.contains(where: isControl) {
            text = ""
            for scalar in message.unicodeScalars {
                if isControl(scalar) { text += "\\u{\(String(scalar.value, radix: 16))}" } else { text.unicodeScalars.append(scalar) }
            }
        }
        guard text.utf8.count > problemMessageBytes else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: problemMessageBytes)
        while end > text.utf8.startIndex && end.samePosition(in: text.unicodeScalars) == nil { end = text.utf8.index(before: end) }
        return String(text[..<end]) + "…"
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value <= 0x9F)
    }
}
