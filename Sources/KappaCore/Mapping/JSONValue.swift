/// A JSON document as a tree, for routes with a payload mapping: they read it by path. Routes without
/// one never build it (``JSONTelemetryDecoder`` reads those in one pass).
enum JSONValue {
    /// Members in payload order; a repeated key keeps every occurrence (paths take the first).
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The Double for values; the decimal digits for timestamps, which need all of them.
    case number(Double, DecimalNumber)
    case bool(Bool)
    case null

    /// A short quotation of a value for problem messages.
    var excerpt: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string(let text): "the string \"\(text.count > 40 ? text.prefix(40) + "…" : Substring(text))\""
        case .number(let value, _): "the number \(value)"
        case .bool(let value): "\(value)"
        case .null: "null"
        }
    }
}

extension JSONTelemetryDecoder {
    /// The value at `index` as a tree, with the one-pass decoder's syntax rules, limits and problems.
    mutating func parseValue(depth: Int) throws(Fatal) -> JSONValue {
        guard index < bytes.count else { throw syntax("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try checkDepth(depth)
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw syntax(index < bytes.count ? "expected a key string, found \(describeByte(at: index))" : "the object is not closed")
                }
                let key = keyString(try scanString())
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw syntax("expected ':' after the key") }
                index += 1
                skipWhitespace()
                members.append((key, try parseValue(depth: depth + 1)))
                guard try continuesAfterElement(closedBy: UInt8(ascii: "}")) else { return .object(members) }
            }
        case UInt8(ascii: "["):
            try checkDepth(depth)
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1))
                guard try continuesAfterElement(closedBy: UInt8(ascii: "]")) else { return .array(elements) }
            }
        case UInt8(ascii: "\""):
            return .string(keyString(try scanString()))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let number = try scanNumber()
            return .number(number.doubleValue(in: bytes), number)
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            throw syntax("expected a value, found \(describeByte(at: index))")
        }
    }
}
