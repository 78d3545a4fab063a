/// Decodes a payload that is one number, for topics whose template names the metric.
///
/// Accepts surrounding whitespace, JSON-style and looser numbers (`21.5`, `+3`, `.5`, `1e3`, `007`), and
/// `true`/`false` as 1/0. `NaN`, `inf` and numbers beyond Double's range are `non_finite_value`.
/// The reading is timed by the receive time (`TimeSource.received`): a bare number carries no time.
enum BareNumberDecoder {
    static func decode(
        _ bytes: UnsafeRawBufferPointer, match: TopicMatch, receivedAt: Timestamp,
        into readings: inout [Reading], problems: inout [DecodeProblem]
    ) {
        guard let metric = match.metric else {
            problems.append(DecodeProblem(reason: .unsupportedFormat, message: "a bare-number payload needs a topic template with {metric}"))
            return
        }
        var start = 0, end = bytes.count
        while start < end && isWhitespace(bytes[start]) { start += 1 }
        while end > start && isWhitespace(bytes[end - 1]) { end -= 1 }
        let token = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        var value: Double?
        if token.elementsEqual("true".utf8) {
            value = 1
        } else if token.elementsEqual("false".utf8) {
            value = 0
        } else {
            var position = 0
            if case .number(let number) = DecimalNumber.scan(token, at: &position, lenient: true), position == token.count {
                let parsed = number.doubleValue(in: token)
                guard parsed.isFinite else {
                    problems.append(DecodeProblem(reason: .nonFiniteValue, message: "metric '\(metric)': \(PayloadExcerpt.quote(token, from: 0, to: token.count)) is beyond the range of a Double", field: metric, byteOffset: start))
                    return
                }
                value = parsed
            } else if isNonFiniteName(token) {
                problems.append(DecodeProblem(reason: .nonFiniteValue, message: "metric '\(metric)': \(PayloadExcerpt.quote(token, from: 0, to: token.count)) is not a finite number", field: metric, byteOffset: start))
                return
            } else {
                let bad = start + position
                problems.append(DecodeProblem(reason: .malformedNumber, message: "metric '\(metric)': expected a bare number, found \(PayloadExcerpt.quote(token, from: 0, to: token.count)) (invalid at byte \(bad))", field: metric, byteOffset: bad))
                return
            }
        }
        guard let value else { return }
        readings.append(Reading(device: match.device, metric: metric, time: receivedAt, value: value, timeSource: .received, tags: match.tags))
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
    }

    /// `nan`, `inf`, `infinity` in any case, with an optional sign.
    static func isNonFiniteName(_ token: UnsafeRawBufferPointer) -> Bool {
        var lower = token.map { $0 | 0x20 }
        if let first = token.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { lower.removeFirst() }
        return lower.elementsEqual("nan".utf8) || lower.elementsEqual("inf".utf8) || lower.elementsEqual("infinity".utf8)
    }
}
