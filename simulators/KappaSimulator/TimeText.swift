import KappaCore

/// Reading times from command-line and CSV text (durations: KappaCore's ``DurationText``).
public enum TimeText {
    /// The gateway's own reading of a `ts` field: epoch seconds/ms/µs/ns by magnitude, or RFC 3339.
    /// Parsed by KappaCore's JSON decoder, so a replayed file means exactly what the gateway would make of it.
    public static func timestamp(_ text: some StringProtocol) -> Timestamp? {
        let trimmed = text.drop { $0 == " " }.reversed().drop { $0 == " " || $0 == "\r" }.reversed()
        guard !trimmed.isEmpty else { return nil }
        let numeric = trimmed.allSatisfy { $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" || $0 == "e" || $0 == "E" }
        var document: [UInt8] = Array(#"{"ts":"#.utf8)
        if numeric {
            document += Array(String(trimmed).utf8)
        } else {
            PayloadBytes.appendJSONString(String(trimmed), to: &document)
        }
        document += Array(#","v":0}"#.utf8)
        let anyTime = DecodingLimits(maxFutureNanoseconds: .max / 2, maxPastNanoseconds: .max / 2)
        var readings: [Reading] = []
        var problems: [DecodeProblem] = []
        PayloadDecoder(limits: anyTime).decode(
            match: TopicMatch(format: .json, device: "t"), payload: document, receivedAt: Timestamp(nanosecondsSinceEpoch: 0),
            into: &readings, problems: &problems
        )
        guard problems.isEmpty, let reading = readings.first, reading.timeSource == .device else { return nil }
        return reading.time
    }
}
