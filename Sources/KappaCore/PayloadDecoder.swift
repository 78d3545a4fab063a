/// Turns one message's payload into readings, reporting whatever it could not use.
///
/// Thread-safe and allocation-light: it holds only its limits, so one instance may serve every message
/// on libmosquitto's network thread. Apart from the readings' metric names (and tags from line protocol),
/// decoding allocates only when something is wrong (problem messages) or unusual (escaped keys).
public struct PayloadDecoder: Sendable {
    public var limits: DecodingLimits

    public init(limits: DecodingLimits = .default) {
        self.limits = limits
    }

    /// Appends the readings of `payload` to `readings` and one entry per problem to `problems`.
    ///
    /// Whole-message problems (`empty_payload`, `oversized_payload`, `malformed_json`, `invalid_utf8`,
    /// `nesting_too_deep`, `no_readings`, a bad device or tag in the topic, …) add no readings. A reading
    /// whose name breaks `DecodingLimits.names` is never made: it is reported instead. Field, object or line problems leave the
    /// message's other readings in place; the caller dead-letters the message once per problem.
    /// Never traps, and runs in time linear in the payload size.
    public func decode(
        match: TopicMatch, payload: UnsafeRawBufferPointer, receivedAt: Timestamp,
        into readings: inout [Reading], problems: inout [DecodeProblem]
    ) {
        guard payload.count <= limits.maxPayloadBytes else {
            problems.append(DecodeProblem(
                reason: .oversizedPayload,
                message: "payload of \(payload.count) bytes exceeds the limit of \(limits.maxPayloadBytes) bytes"
            ))
            return
        }
        guard payload.contains(where: { !BareNumberDecoder.isWhitespace($0) }) else {
            problems.append(DecodeProblem(
                reason: .emptyPayload,
                message: payload.isEmpty ? "the payload is empty" : "the payload holds only whitespace (\(payload.count) bytes)"
            ))
            return
        }
        // Names are checked after the payload's own whole-message checks, so an empty or oversized payload
        // keeps its reason; a bad topic name spoils every reading of the message.
        if let problem = limits.names.problem(with: match) {
            problems.append(problem)
            return
        }
        let firstReading = readings.count
        defer { limits.names.removeInvalidNames(in: &readings, from: firstReading, match: match, problems: &problems) }
        switch match.format {
        case .json:
            if let mapping = match.mapping {
                MappedJSONDecoder(mapping: mapping.rules, match: match, limits: limits, receivedAt: receivedAt)
                    .decode(bytes: payload, into: &readings, problems: &problems)
                return
            }
            var decoder = JSONTelemetryDecoder(bytes: payload, limits: limits, match: match, receivedAt: receivedAt)
            decoder.decode(into: &readings, problems: &problems)
        case .number:
            BareNumberDecoder.decode(payload, match: match, receivedAt: receivedAt, into: &readings, problems: &problems)
        case .lineProtocol:
            if let bad = UTF8Validation.firstInvalidOffset(in: payload, from: 0, to: payload.count) {
                problems.append(DecodeProblem(reason: .invalidUTF8, message: "invalid UTF-8 at byte \(bad)", byteOffset: bad))
                return
            }
            LineProtocolDecoder(bytes: payload, match: match, receivedAt: receivedAt, limits: limits)
                .decode(into: &readings, problems: &problems)
        }
    }

    /// As the raw-buffer variant, for a byte array.
    public func decode(
        match: TopicMatch, payload: [UInt8], receivedAt: Timestamp,
        into readings: inout [Reading], problems: inout [DecodeProblem]
    ) {
        payload.withUnsafeBytes { bytes in
            decode(match: match, payload: bytes, receivedAt: receivedAt, into: &readings, problems: &problems)
        }
    }
}
