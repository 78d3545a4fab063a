/// Decodes InfluxDB line protocol: `measurement[,tag=value…] field=value[,field=value…] [timestamp]`,
/// one line per point, `#` comment lines and blank lines skipped.
///
/// Mapping onto readings:
/// - **device**: the topic's `{device}`. A line's `device` tag naming the same device is dropped as
///   redundant; one naming another device makes the line an `invalid_device` problem (the other lines
///   still count), unless the route sets `TopicRoute.lineProtocolDeviceTag`, and then the tag names the
///   device. Letting any line name its device by default would let a publisher allowed only
///   `devices/a/…` write readings for device `b`, defeating per-device topic ACLs; keeping the line under
///   the topic's device would silently mix two devices' readings;
/// - **metric**: `measurement.field`, except that a field named `value` gives just `measurement`
///   (`temperature value=21.5` is metric `temperature`); the topic's `{metric}` is not used;
/// - **tags**: the topic's tags plus the line's other tags, sorted by key (a line tag wins over a topic
///   tag of the same key);
/// - **values**: floats, integers (`3i`), unsigned integers (`3u`) and booleans (`t`, `true`, `F`, …);
///   string fields are `non_numeric_value`;
/// - **time**: the timestamp is read by magnitude like JSON's `ts` (so nanoseconds, Influx's default, and
///   s/ms/µs all work); absent, the receive time.
/// Each line stands alone: a malformed line is `malformed_line_protocol` (with line number and byte
/// offset) and the other lines still count.
struct LineProtocolDecoder {
    let bytes: UnsafeRawBufferPointer
    let match: TopicMatch
    let receivedAt: Timestamp
    let limits: DecodingLimits

    struct LineError: Error {
        var message: String
        var offset: Int
    }

    func decode(into readings: inout [Reading], problems: inout [DecodeProblem]) {
        var lineStart = 0
        var lineNumber = 0
        var sawLine = false
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            var contentEnd = lineEnd
            while contentEnd > lineStart && BareNumberDecoder.isWhitespace(bytes[contentEnd - 1]) { contentEnd -= 1 }
            var contentStart = lineStart
            while contentStart < contentEnd && BareNumberDecoder.isWhitespace(bytes[contentStart]) { contentStart += 1 }
            if contentStart < contentEnd && bytes[contentStart] != UInt8(ascii: "#") {
                sawLine = true
                let firstReading = readings.count, firstProblem = problems.count
                do throws(LineError) {
                    try decodeLine(from: contentStart, to: contentEnd, number: lineNumber, into: &readings, problems: &problems)
                } catch {
                    readings.removeSubrange(firstReading...)
                    problems.removeSubrange(firstProblem...)
                    problems.append(DecodeProblem(
                        reason: .malformedLineProtocol,
                        message: "line \(lineNumber): \(error.message) at byte \(error.offset)",
                        byteOffset: error.offset
                    ))
                }
            }
            lineStart = lineEnd + 1
        }
        if !sawLine {
            problems.append(DecodeProblem(reason: .noReadings, message: "the line protocol payload has only comments and blank lines"))
        }
    }

    /// A token's extent and whether it holds backslash escapes.
    private struct Token {
        var start: Int
        var end: Int
        var hasEscapes: Bool
    }

    private func decodeLine(from start: Int, to end: Int, number lineNumber: Int, into readings: inout [Reading], problems: inout [DecodeProblem]) throws(LineError) {
        var i = start
        let measurementToken = token(&i, end, stopAtEquals: false)
        guard measurementToken.end > measurementToken.start else { throw LineError(message: "missing measurement name", offset: i) }
        let measurement = text(measurementToken)
        var device = match.device
        var foreignDevice: String?
        var lineTags: [Tag] = []
        while i < end && bytes[i] == UInt8(ascii: ",") {
            i += 1
            let key = token(&i, end, stopAtEquals: true)
            guard key.end > key.start, i < end, bytes[i] == UInt8(ascii: "=") else {
                throw LineError(message: "expected tag key=value", offset: i)
            }
            i += 1
            let value = token(&i, end, stopAtEquals: false)
            guard value.end > value.start else { throw LineError(message: "empty tag value", offset: i) }
            let tagKey = text(key), tagValue = text(value)
            if tagKey == "device" {
                if match.lineProtocolDeviceTag {
                    device = tagValue
                } else if tagValue != match.device {
                    foreignDevice = tagValue
                }
            } else {
                lineTags.append(Tag(key: tagKey, value: tagValue))
            }
        }
        let tags = lineTags.isEmpty ? match.tags : mergedTags(lineTags)
        guard i < end, bytes[i] == UInt8(ascii: " ") else { throw LineError(message: "expected a space before the fields", offset: i) }
        if let foreignDevice {
            problems.append(DecodeProblem(
                reason: .invalidDevice,
                message: "line \(lineNumber): its device tag '\(NameLimits.excerpt(foreignDevice, quoted: false))' is not the topic's device '\(NameLimits.excerpt(match.device, quoted: false))'; the topic names the device unless the route allows the tag",
                byteOffset: start
            ))
            return
        }
        while i < end && bytes[i] == UInt8(ascii: " ") { i += 1 }

        let firstReading = readings.count
        // A set, not an array: a hostile line of tens of thousands of fields must stay linear.
        var seenFields: Set<String> = []
        while true {
            let keyToken = token(&i, end, stopAtEquals: true)
            guard keyToken.end > keyToken.start, i < end, bytes[i] == UInt8(ascii: "=") else {
                throw LineError(message: "expected field key=value", offset: i)
            }
            i += 1
            let field = text(keyToken)
            let metric = field == "value" ? measurement : measurement + "." + field
            let valueStart = i
            let value = try fieldValue(&i, end, metric: metric, problems: &problems)
            if let value {
                if !seenFields.insert(field).inserted {
                    problems.append(DecodeProblem(reason: .duplicateKey, message: "line \(lineNumber): field '\(NameLimits.excerpt(field, quoted: false))' appears again at byte \(valueStart); the first one is used", field: metric, byteOffset: valueStart))
                } else {
                    readings.append(Reading(device: device, metric: metric, time: receivedAt, value: value, timeSource: .received, tags: tags))
                }
            }
            if i < end && bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            break
        }
        guard i == end || bytes[i] == UInt8(ascii: " ") else {
            throw LineError(message: "unexpected \(PayloadExcerpt.describe(byte: bytes[i])) after the fields", offset: i)
        }
        while i < end && bytes[i] == UInt8(ascii: " ") { i += 1 }
        guard i < end else { return }

        let timeStart = i
        var position = i
        let digitsStart = bytes[i] == UInt8(ascii: "-") ? i + 1 : i
        guard digitsStart < end, bytes[digitsStart..<end].allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
              case .number(let number) = DecimalNumber.scan(bytes, at: &position, lenient: true), position == end,
              let timestamp = EpochTimestamp.timestamp(from: number)
        else {
            throw LineError(message: "timestamp \(PayloadExcerpt.quote(bytes, from: timeStart, to: end)) is not an integer epoch time within 1677–2262", offset: timeStart)
        }
        let dropped = limits.stamp(&readings, from: firstReading, with: timestamp, receivedAt: receivedAt)
        if dropped > 0 {
            problems.append(.timestampOutOfRange(
                timestamp, receivedAt: receivedAt, rejected: dropped,
                subject: "line \(lineNumber): timestamp", field: "timestamp", byteOffset: timeStart
            ))
        }
    }

    /// A field value at `i`: the number, or nil after reporting why it is not one.
    private func fieldValue(_ i: inout Int, _ end: Int, metric: String, problems: inout [DecodeProblem]) throws(LineError) -> Double? {
        let start = i
        guard i < end else { throw LineError(message: "missing field value", offset: i) }
        if bytes[i] == UInt8(ascii: "\"") {
            i += 1
            while i < end && bytes[i] != UInt8(ascii: "\"") {
                i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard i < end else { throw LineError(message: "string field value is not closed", offset: start) }
            i += 1
            problems.append(DecodeProblem(reason: .nonNumericValue, message: "field '\(metric)' at byte \(start) is the string \(PayloadExcerpt.quote(bytes, from: start, to: i)), not a number", field: metric, byteOffset: start))
            return nil
        }
        while i < end && bytes[i] != UInt8(ascii: ",") && bytes[i] != UInt8(ascii: " ") { i += 1 }
        let token = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
        guard let last = token.last else { throw LineError(message: "missing field value", offset: start) }
        switch token.count {
        case 1 where last == UInt8(ascii: "t") || last == UInt8(ascii: "T"): return 1
        case 1 where last == UInt8(ascii: "f") || last == UInt8(ascii: "F"): return 0
        default: break
        }
        if token.elementsEqual("true".utf8) || token.elementsEqual("True".utf8) || token.elementsEqual("TRUE".utf8) { return 1 }
        if token.elementsEqual("false".utf8) || token.elementsEqual("False".utf8) || token.elementsEqual("FALSE".utf8) { return 0 }
        let isInteger = last == UInt8(ascii: "i") || last == UInt8(ascii: "u")
        let digits = UnsafeRawBufferPointer(rebasing: token[0..<(isInteger ? token.count - 1 : token.count)])
        var position = 0
        guard case .number(let number) = DecimalNumber.scan(digits, at: &position, lenient: !isInteger), position == digits.count,
              !isInteger || (number.exponent >= 0 && !digits.contains(UInt8(ascii: ".")) && !digits.contains(UInt8(ascii: "e")) && !digits.contains(UInt8(ascii: "E")))
        else {
            throw LineError(message: "field value \(PayloadExcerpt.quote(bytes, from: start, to: i)) is not a number, boolean or string", offset: start)
        }
        let value = number.doubleValue(in: digits)
        guard value.isFinite else {
            problems.append(DecodeProblem(reason: .nonFiniteValue, message: "field '\(metric)' at byte \(start): \(PayloadExcerpt.quote(bytes, from: start, to: i)) is beyond the range of a Double", field: metric, byteOffset: start))
            return nil
        }
        return value
    }

    /// Scans to the next unescaped `,` or space (or `=` too), or to `end`.
    private func token(_ i: inout Int, _ end: Int, stopAtEquals: Bool) -> Token {
        let start = i
        var hasEscapes = false
        while i < end {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\\") && i + 1 < end {
                hasEscapes = true
                i += 2
                continue
            }
            if byte == UInt8(ascii: ",") || byte == UInt8(ascii: " ") || (stopAtEquals && byte == UInt8(ascii: "=")) { break }
            i += 1
        }
        return Token(start: start, end: i, hasEscapes: hasEscapes)
    }

    /// The token's text with `\,` `\=` `\ ` `\\` unescaped; other backslashes stay as they are.
    private func text(_ token: Token) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
        guard token.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(raw.count)
        var k = 0
        while k < raw.count {
            if raw[k] == UInt8(ascii: "\\") && k + 1 < raw.count,
               [UInt8(ascii: ","), UInt8(ascii: "="), UInt8(ascii: " "), UInt8(ascii: "\\")].contains(raw[k + 1]) {
                unescaped.append(raw[k + 1])
                k += 2
            } else {
                unescaped.append(raw[k])
                k += 1
            }
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    private func mergedTags(_ lineTags: [Tag]) -> [Tag] {
        var merged = lineTags
        for tag in match.tags where !lineTags.contains(where: { $0.key == tag.key }) { merged.append(tag) }
        merged.sort { $0.key < $1.key }
        return merged
    }
}
