/// Decodes JSON telemetry straight from bytes into readings, in one pass, without building a document.
///
/// Accepted shapes (whitespace anywhere JSON allows it):
/// - `{"ts": 1732400000000, "temperature": 21.5, "humidity": 40.1}`: each numeric field is a reading;
/// - `{"ts": …, "values": {"temperature": 21.5}}`: the fields of `values` are readings (beside any others);
/// - `[{…}, {…}]`: a batch; each element is one of the above with its own `ts`;
/// - on a template that names the metric, a bare number or boolean.
///
/// Field rules, as documented for users:
/// - `ts` is epoch seconds/ms/µs/ns by magnitude (`EpochTimestamp`), an RFC 3339 string, or a numeric
///   string; absent, readings take the receive time and `TimeSource.received`. An unusable `ts` drops that
///   object's readings (`invalid_timestamp`, or `timestamp_out_of_range` outside the accepted window).
/// - Numbers become values; `true`/`false` become 1/0; strings holding a number (`"21.5"`) are accepted;
///   other strings and `null` are `non_numeric_value`; `"NaN"`, `"Infinity"` and numbers beyond Double's
///   range are `non_finite_value`.
/// - Nested objects other than `values` are flattened: `{"env": {"t": 1}}` gives metric `env.t`.
///   Arrays as field values are `unsupported_value`.
/// - A key seen twice in one object (after flattening): the first wins, each later one is `duplicate_key`.
/// - Keys are unescaped (`"temp\u00e9rature"` is `température`); strings must be valid UTF-8.
///
/// A syntax error, invalid UTF-8 or nesting beyond the limit rejects the whole message (its readings are
/// taken back) with one problem naming the byte offset. Field problems keep the other readings.
struct JSONTelemetryDecoder {
    let bytes: UnsafeRawBufferPointer
    let limits: DecodingLimits
    let match: TopicMatch
    let receivedAt: Timestamp
    var index = 0
    /// Unescaped key bytes, for the rare key with backslashes; allocated on first use.
    var scratch: [UInt8] = []
    /// Metric names of the current object once it is large (see `isDuplicate`), and where it starts.
    var seenMetrics: Set<String> = []
    var seenMetricsStart = -1

    /// Rejects the whole message.
    struct Fatal: Error {
        var problem: DecodeProblem
    }

    init(bytes: UnsafeRawBufferPointer, limits: DecodingLimits, match: TopicMatch, receivedAt: Timestamp) {
        self.bytes = bytes
        self.limits = limits
        self.match = match
        self.receivedAt = receivedAt
    }

    mutating func decode(into readings: inout [Reading], problems: inout [DecodeProblem]) {
        let firstReading = readings.count, firstProblem = problems.count
        do throws(Fatal) {
            try decodeDocument(into: &readings, problems: &problems)
        } catch {
            readings.removeSubrange(firstReading...)
            problems.removeSubrange(firstProblem...)
            problems.append(error.problem)
            return
        }
        if readings.count == firstReading && problems.count == firstProblem {
            problems.append(DecodeProblem(reason: .noReadings, message: "the JSON payload holds no numeric field"))
        }
    }

    private mutating func decodeDocument(into readings: inout [Reading], problems: inout [DecodeProblem]) throws(Fatal) {
        skipWhitespace()
        guard index < bytes.count else {
            throw syntax("the payload holds no JSON value")
        }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try decodeRecord(depth: 1, into: &readings, problems: &problems)
        case UInt8(ascii: "["):
            try decodeBatch(into: &readings, problems: &problems)
        default:
            let start = index
            guard let metric = match.metric else {
                try skipValue(depth: 1)
                throw Fatal(problem: DecodeProblem(
                    reason: .unsupportedFormat,
                    message: "expected a JSON object or array at byte \(start); a bare value needs a topic template with {metric}",
                    byteOffset: start
                ))
            }
            if let value = try scalarValue(field: metric, depth: 1, problems: &problems) {
                readings.append(Reading(
                    device: match.device, metric: metric, time: receivedAt, value: value,
                    timeSource: .received, tags: match.tags
                ))
            }
        }
        skipWhitespace()
        if index < bytes.count {
            throw syntax("unexpected \(describeByte(at: index)) after the JSON value")
        }
    }

    private mutating func decodeBatch(into readings: inout [Reading], problems: inout [DecodeProblem]) throws(Fatal) {
        index += 1  // [
        try checkDepth(1)
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        var element = 0
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw syntax("the array is not closed") }
            if bytes[index] == UInt8(ascii: "{") {
                try decodeRecord(depth: 2, into: &readings, problems: &problems)
            } else {
                let start = index
                try skipValue(depth: 2)
                problems.append(DecodeProblem(
                    reason: .unsupportedFormat,
                    message: "batch element \(element) at byte \(start) is not an object",
                    byteOffset: start
                ))
            }
            element += 1
            guard try continuesAfterElement(closedBy: UInt8(ascii: "]")) else { return }
        }
    }

    /// What `ts` of the object being decoded said.
    private enum TimeField {
        case absent
        case valid(Timestamp)
        /// Already reported as a problem.
        case invalid
    }

    /// One object: its fields become readings timed by its `ts`.
    private mutating func decodeRecord(depth: Int, into readings: inout [Reading], problems: inout [DecodeProblem]) throws(Fatal) {
        let firstReading = readings.count
        let objectStart = index
        var time = TimeField.absent
        seenMetricsStart = -1
        try decodeMembers(prefix: "", depth: depth, topLevel: true, time: &time, firstReading: firstReading, into: &readings, problems: &problems)
        switch time {
        case .absent:
            // Readings were appended with the receive time already.
            break
        case .invalid:
            readings.removeSubrange(firstReading...)
        case .valid(let timestamp):
            let dropped = limits.stamp(&readings, from: firstReading, with: timestamp, receivedAt: receivedAt)
            if dropped > 0 {
                problems.append(.timestampOutOfRange(
                    timestamp, receivedAt: receivedAt, rejected: dropped,
                    subject: "ts of the object at byte \(objectStart):", field: "ts", byteOffset: objectStart
                ))
            }
        }
    }

    /// The members of an object at `index`; `prefix` is the flattened path of enclosing keys (`env.`).
    private mutating func decodeMembers(
        prefix: String, depth: Int, topLevel: Bool, time: inout TimeField, firstReading: Int,
        into readings: inout [Reading], problems: inout [DecodeProblem]
    ) throws(Fatal) {
        try checkDepth(depth)
        index += 1  // {
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw syntax("the object is not closed") }
            guard bytes[index] == UInt8(ascii: "\"") else {
                throw syntax("expected a key string, found \(describeByte(at: index))")
            }
            let keyOffset = index
            let key = try scanString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw syntax(index < bytes.count ? "expected ':' after the key, found \(describeByte(at: index))" : "the object is not closed")
            }
            index += 1
            skipWhitespace()
            guard index < bytes.count else { throw syntax("the object is not closed") }
            let valueStart = bytes[index]

            if topLevel && keyEquals(key, "ts") {
                if case .absent = time {
                    time = try timeValue(depth: depth + 1, problems: &problems)
                } else {
                    try skipValue(depth: depth + 1)
                    problems.append(DecodeProblem(reason: .duplicateKey, message: "key 'ts' appears again at byte \(keyOffset); the first one is used", field: "ts", byteOffset: keyOffset))
                }
            } else if topLevel && valueStart == UInt8(ascii: "{") && keyEquals(key, "values") {
                try decodeMembers(prefix: prefix, depth: depth + 1, topLevel: false, time: &time, firstReading: firstReading, into: &readings, problems: &problems)
            } else if valueStart == UInt8(ascii: "{") {
                let nested = prefix + keyString(key) + "."
                try decodeMembers(prefix: nested, depth: depth + 1, topLevel: false, time: &time, firstReading: firstReading, into: &readings, problems: &problems)
            } else {
                let name = prefix.isEmpty ? keyString(key) : prefix + keyString(key)
                if let value = try scalarValue(field: name, depth: depth + 1, problems: &problems) {
                    if isDuplicate(name, in: readings, from: firstReading) {
                        problems.append(DecodeProblem(reason: .duplicateKey, message: "key '\(name)' appears again at byte \(keyOffset); the first one is used", field: name, byteOffset: keyOffset))
                    } else {
                        readings.append(Reading(
                            device: match.device, metric: name, time: receivedAt, value: value,
                            timeSource: .received, tags: match.tags
                        ))
                    }
                }
            }

            guard try continuesAfterElement(closedBy: UInt8(ascii: "}")) else { return }
        }
    }

    /// Whether the object being decoded (its readings start at `start`) already has `metric`.
    /// A linear scan for the usual handful of fields; a set once an object is large, so that a hostile
    /// payload of many thousand fields stays linear.
    private mutating func isDuplicate(_ metric: String, in readings: [Reading], from start: Int) -> Bool {
        let count = readings.count - start
        if count < 32 {
            var position = start
            while position < readings.count {
                if readings[position].metric == metric { return true }
                position += 1
            }
            return false
        }
        if seenMetricsStart != start {
            seenMetricsStart = start
            seenMetrics = Set(readings[start...].lazy.map(\.metric))
        }
        return !seenMetrics.insert(metric).inserted
    }

    // MARK: Values

    /// A field's value as a reading value, or nil after reporting why it is not one.
    private mutating func scalarValue(field: String, depth: Int, problems: inout [DecodeProblem]) throws(Fatal) -> Double? {
        let start = index
        switch bytes[index] {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let number = try scanNumber()
            let value = number.doubleValue(in: bytes)
            guard value.isFinite else {
                problems.append(DecodeProblem(reason: .nonFiniteValue, message: "field '\(field)' at byte \(start): \(excerpt(start, index)) is beyond the range of a Double", field: field, byteOffset: start))
                return nil
            }
            return value
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return 1
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return 0
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            problems.append(DecodeProblem(reason: .nonNumericValue, message: "field '\(field)' at byte \(start) is null", field: field, byteOffset: start))
            return nil
        case UInt8(ascii: "\""):
            let string = try scanString()
            return numericString(string, field: field, at: start, problems: &problems)
        case UInt8(ascii: "["):
            try skipValue(depth: depth)
            problems.append(DecodeProblem(reason: .unsupportedValue, message: "field '\(field)' at byte \(start) is an array; only numbers, booleans and objects are accepted", field: field, byteOffset: start))
            return nil
        case UInt8(ascii: "{"):
            try skipValue(depth: depth)
            problems.append(DecodeProblem(reason: .unsupportedValue, message: "field '\(field)' at byte \(start) is an object where a number was expected", field: field, byteOffset: start))
            return nil
        default:
            throw syntax("expected a value, found \(describeByte(at: index))")
        }
    }

    /// The number inside a JSON string such as `"21.5"`, or nil after reporting the string.
    private func numericString(_ string: ScannedString, field: String, at start: Int, problems: inout [DecodeProblem]) -> Double? {
        if !string.hasEscapes {
            var position = string.start
            var overflows = false
            if case .number(let number) = DecimalNumber.scan(bytes, at: &position, lenient: true), position == string.end {
                let value = number.doubleValue(in: bytes)
                if value.isFinite { return value }
                overflows = true
            }
            if overflows || BareNumberDecoder.isNonFiniteName(UnsafeRawBufferPointer(rebasing: bytes[string.start..<string.end])) {
                problems.append(DecodeProblem(reason: .nonFiniteValue, message: "field '\(field)' at byte \(start) is the non-finite value \(excerpt(start, index))", field: field, byteOffset: start))
                return nil
            }
        }
        problems.append(DecodeProblem(reason: .nonNumericValue, message: "field '\(field)' at byte \(start) is the string \(excerpt(start, index)), not a number", field: field, byteOffset: start))
        return nil
    }

    /// The `ts` value at `index`.
    private mutating func timeValue(depth: Int, problems: inout [DecodeProblem]) throws(Fatal) -> TimeField {
        let start = index
        var timestamp: Timestamp?
        switch bytes[index] {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            timestamp = EpochTimestamp.timestamp(from: try scanNumber())
        case UInt8(ascii: "\""):
            let string = try scanString()
            if !string.hasEscapes {
                timestamp = RFC3339.timestamp(bytes, from: string.start, to: string.end)
                if timestamp == nil {
                    var position = string.start
                    if case .number(let number) = DecimalNumber.scan(bytes, at: &position, lenient: false), position == string.end {
                        timestamp = EpochTimestamp.timestamp(from: number)
                    }
                }
            }
        default:
            try skipValue(depth: depth)
        }
        guard let timestamp else {
            problems.append(DecodeProblem(
                reason: .invalidTimestamp,
                message: "ts at byte \(start) is \(excerpt(start, index)): expected epoch s/ms/µs/ns within 1677–2262 or an RFC 3339 string; the object's readings are rejected",
                field: "ts", byteOffset: start
            ))
            return .invalid
        }
        return .valid(timestamp)
    }

    // MARK: Syntax

    struct ScannedString {
        /// Contents without the quotes.
        var start: Int
        var end: Int
        var hasEscapes: Bool
    }

    /// After an object member or array element: consumes the `,` before the next one (true) or the closing
    /// `close` (false), and names what was found instead.
    @inline(__always)
    mutating func continuesAfterElement(closedBy close: UInt8) throws(Fatal) -> Bool {
        skipWhitespace()
        guard index < bytes.count else { throw syntax("the \(close == UInt8(ascii: "}") ? "object" : "array") is not closed") }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            return true
        }
        guard bytes[index] == close else {
            let container = close == UInt8(ascii: "}") ? "object" : "array"
            throw syntax("expected ',' or '\(Character(Unicode.Scalar(close)))' in the \(container), found \(describeByte(at: index))")
        }
        index += 1
        return false
    }

    /// Scans a string at `index` (on its opening quote), checking escapes and UTF-8.
    mutating func scanString() throws(Fatal) -> ScannedString {
        let start = index + 1
        var i = start
        var hasEscapes = false
        var hasNonASCII = false
        while true {
            guard i < bytes.count else {
                index = i
                throw syntax("the string starting at byte \(start - 1) is not closed")
            }
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                index = i
                i = try skipEscape(at: i)
                continue
            }
            if byte < 0x20 {
                index = i
                throw syntax("control character 0x\(String(byte, radix: 16)) inside a string; it must be escaped")
            }
            if byte >= 0x80 { hasNonASCII = true }
            i += 1
        }
        if hasNonASCII, let bad = UTF8Validation.firstInvalidOffset(in: bytes, from: start, to: i) {
            index = bad
            throw Fatal(problem: DecodeProblem(reason: .invalidUTF8, message: "invalid UTF-8 at byte \(bad) inside a string", byteOffset: bad))
        }
        index = i + 1
        return ScannedString(start: start, end: i, hasEscapes: hasEscapes)
    }

    /// Checks the escape at `i` (a backslash) and returns the offset after it.
    private func skipEscape(at i: Int) throws(Fatal) -> Int {
        guard i + 1 < bytes.count else { throw syntax("unfinished escape", at: i) }
        switch bytes[i + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return i + 2
        case UInt8(ascii: "u"):
            guard let unit = hex4(at: i + 2) else { throw syntax("\\u must be followed by four hex digits", at: i) }
            if (0xD800...0xDBFF).contains(unit) {
                guard i + 7 < bytes.count, bytes[i + 6] == UInt8(ascii: "\\"), bytes[i + 7] == UInt8(ascii: "u"),
                      let low = hex4(at: i + 8), (0xDC00...0xDFFF).contains(low)
                else { throw syntax("high surrogate \\u\(String(unit, radix: 16)) without its low surrogate", at: i) }
                return i + 12
            }
            if (0xDC00...0xDFFF).contains(unit) {
                throw syntax("lone low surrogate \\u\(String(unit, radix: 16))", at: i)
            }
            return i + 6
        default:
            throw syntax("invalid escape \(describeByte(at: i + 1))", at: i)
        }
    }

    private func hex4(at i: Int) -> UInt32? {
        guard i + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for k in i..<(i + 4) {
            let byte = bytes[k]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Whether a scanned key is `literal` (after unescaping).
    private mutating func keyEquals(_ key: ScannedString, _ literal: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        if !key.hasEscapes {
            return key.end - key.start == expected.count && bytes[key.start..<key.end].elementsEqual(expected)
        }
        unescape(key)
        return scratch.elementsEqual(expected)
    }

    /// Whether a scanned key is `name`'s UTF-8 (after unescaping), without making a String of it.
    mutating func keyEquals(_ key: ScannedString, _ name: [UInt8]) -> Bool {
        if !key.hasEscapes {
            guard key.end - key.start == name.count else { return false }
            // A plain loop: the generic `elementsEqual` of a slice and an array cost several times more.
            var offset = 0
            while offset < name.count {
                if bytes[key.start + offset] != name[offset] { return false }
                offset += 1
            }
            return true
        }
        unescape(key)
        return scratch == name
    }

    /// The key as a String, unescaped.
    mutating func keyString(_ key: ScannedString) -> String {
        if !key.hasEscapes {
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[key.start..<key.end]), as: UTF8.self)
        }
        unescape(key)
        return String(decoding: scratch, as: UTF8.self)
    }

    /// Unescapes a string already checked by `scanString` into `scratch`.
    private mutating func unescape(_ string: ScannedString) {
        scratch.removeAll(keepingCapacity: true)
        var i = string.start
        while i < string.end {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                scratch.append(byte)
                i += 1
                continue
            }
            let kind = bytes[i + 1]
            switch kind {
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(at: i + 2) ?? 0xFFFD
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = hex4(at: i + 8) ?? 0xDC00
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                scratch.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")!)
                i += 6
                continue
            default: scratch.append(kind)  // \" \\ \/
            }
            i += 2
        }
    }

    mutating func scanNumber() throws(Fatal) -> DecimalNumber {
        switch DecimalNumber.scan(bytes, at: &index, lenient: false) {
        case .number(let number):
            return number
        case .invalid(let offset):
            throw syntax("malformed number \(excerpt(index, min(offset + 1, bytes.count)))", at: offset)
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(Fatal) {
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard index + expected.count <= bytes.count,
              bytes[index..<(index + expected.count)].elementsEqual(expected)
        else { throw syntax("expected '\(literal)'") }
        index += expected.count
    }

    /// Skips any value at `index`, checking its syntax, so that what follows can be decoded.
    mutating func skipValue(depth: Int) throws(Fatal) {
        guard index < bytes.count else { throw syntax("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try scanNumber()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            try checkDepth(depth)
            let isObject = bytes[index] == UInt8(ascii: "{")
            let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if index < bytes.count && bytes[index] == close {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                if isObject {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw syntax(index < bytes.count ? "expected a key string, found \(describeByte(at: index))" : "the object is not closed")
                    }
                    _ = try scanString()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                        throw syntax("expected ':' after the key")
                    }
                    index += 1
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                guard try continuesAfterElement(closedBy: close) else { return }
            }
        default:
            throw syntax("expected a value, found \(describeByte(at: index))")
        }
    }

    func checkDepth(_ depth: Int) throws(Fatal) {
        if depth > limits.maxNestingDepth {
            throw Fatal(problem: DecodeProblem(
                reason: .nestingTooDeep,
                message: "objects and arrays nest deeper than \(limits.maxNestingDepth) levels at byte \(index)",
                byteOffset: index
            ))
        }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
            default: return
            }
        }
    }

    // MARK: Messages

    func syntax(_ what: String, at offset: Int? = nil) -> Fatal {
        let offset = offset ?? index
        return Fatal(problem: DecodeProblem(reason: .malformedJSON, message: "\(what) at byte \(offset)", byteOffset: offset))
    }

    func describeByte(at offset: Int) -> String {
        guard offset < bytes.count else { return "the end of the payload" }
        return PayloadExcerpt.describe(byte: bytes[offset])
    }

    private func excerpt(_ start: Int, _ end: Int) -> String {
        PayloadExcerpt.quote(bytes, from: start, to: end)
    }
}
