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
        if let problem = sizeProblem(payloadBytes: payload.count) {
            problems.append(problem)
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
                MappedJSONDecoder(mapping: mapping.rules, rootPaths: mapping.rootPaths, match: match, limits: limits, receivedAt: receivedAt)
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

    /// The problem with a payload of `payloadBytes` bytes being too large to decode, or nil.
    public func sizeProblem(payloadBytes: Int) -> DecodeProblem? {
        guard payloadBytes > limits.maxPayloadBytes else { return nil }
        return DecodeProblem(
            reason: .oversizedPayload,
            message: "payload of \(payloadBytes) bytes exceeds the limit of \(limits.maxPayloadBytes) bytes"
        )
    }

    /// Holds readings that another decoder made (Sparkplug B) to the limits every reading meets: those from
    /// `first` on whose names break `DecodingLimits.names`, or whose time lies outside the accepted window, are
    /// removed and reported.
    public func admit(_ readings: inout [Reading], from first: Int, receivedAt: Timestamp, problems: inout [DecodeProblem]) {
        limits.names.removeInvalidNames(in: &readings, from: first, match: nil, problems: &problems)
        var kept = first
        var outside = 0
        var example: Reading?
        for position in first..<readings.count {
            let reading = readings[position]
            guard limits.accepts(reading.time, receivedAt: receivedAt) else {
                outside += 1
                if example == nil { example = reading }
                continue
            }
            if kept != position { readings[kept] = reading }
            kept += 1
        }
        readings.removeSubrange(kept...)
        if let example {
            problems.append(DecodeProblem(
                reason: .timestampOutOfRange,
                message: "\(outside) reading(s) lie outside the accepted window around the receive time \(receivedAt), the first of metric '\(NameLimits.excerpt(example.metric, quoted: false))' at \(example.time)",
                field: example.metric
            ))
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
