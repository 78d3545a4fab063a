/// A path into a JSON document, in a small subset of JSON Pointer (RFC 6901) and JSONPath:
/// - `/uplink_message/decoded_payload`, `/params/switch:0/apower`, `/list/0` (JSON Pointer, `~1` is `/`,
///   `~0` is `~`);
/// - `$.uplink_message.decoded_payload`, `$['switch:0'].apower`, `$.list[0]` (JSONPath: names, quoted
///   names and indexes; no wildcards, filters or recursion);
/// - either form after `@` instead of `$` or a leading `/` (`@.ts`, `@/ts`) starts at the current reading
///   object of a list instead of the document's root.
public struct JSONPath: Hashable, Sendable, CustomStringConvertible {
    public enum Step: Hashable, Sendable {
        /// An object member; on an array, a pointer segment of digits is an index.
        case member(String)
        case index(Int)
    }

    public var steps: [Step]
    /// Starts at the current reading object (`@`) rather than the root.
    public var isRelative: Bool
    public let description: String

    /// The whole document.
    static let root = JSONPath(steps: [], description: "")

    private init(steps: [Step], description: String) {
        self.steps = steps
        isRelative = false
        self.description = description
    }

    public init(_ text: String) throws(PayloadMappingError) {
        description = text
        var rest = Substring(text)
        isRelative = rest.hasPrefix("@")
        if isRelative { rest = rest.dropFirst() }
        if rest.hasPrefix("/") {
            steps = rest.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { segment in
                .member(Self.unescapePointerSegment(segment))
            }
            if rest == "/" { steps = [] }
            return
        }
        if !isRelative {
            guard rest.hasPrefix("$") else {
                throw PayloadMappingError("path '\(text)' must start with '/', '$' or '@'")
            }
            rest = rest.dropFirst()
        }
        steps = []
        while let first = rest.first {
            if first == "." {
                rest = rest.dropFirst()
                let name = rest.prefix { $0 != "." && $0 != "[" }
                guard !name.isEmpty else { throw PayloadMappingError("path '\(text)' has an empty name after '.'") }
                steps.append(.member(String(name)))
                rest = rest.dropFirst(name.count)
            } else if first == "[" {
                rest = rest.dropFirst()
                if let quote = rest.first, quote == "'" || quote == "\"" {
                    rest = rest.dropFirst()
                    guard let close = rest.firstIndex(of: quote), rest[rest.index(after: close)...].hasPrefix("]") else {
                        throw PayloadMappingError("path '\(text)' has an unclosed quoted name")
                    }
                    steps.append(.member(String(rest[..<close])))
                    rest = rest[rest.index(close, offsetBy: 2)...]
                } else {
                    guard let close = rest.firstIndex(of: "]"), let index = Int(rest[..<close]), index >= 0 else {
                        throw PayloadMappingError("path '\(text)' has a bracket that is neither an index nor a quoted name")
                    }
                    steps.append(.index(index))
                    rest = rest[rest.index(after: close)...]
                }
            } else {
                throw PayloadMappingError("path '\(text)': expected '.' or '[' at '\(rest)'")
            }
        }
    }

    /// `~1` is `/` and `~0` is `~` (RFC 6901, in that order, so `~01` is `~1`).
    private static func unescapePointerSegment(_ segment: Substring) -> String {
        var result = ""
        var characters = segment.makeIterator()
        while let character = characters.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch characters.next() {
            case "1": result.append("/")
            case "0": result.append("~")
            case let other?: result.append("~"); result.append(other)
            case nil: result.append("~")
            }
        }
        return result
    }

    /// The value the path leads to, or nil where it leads nowhere.
    func resolve(root: JSONValue, current: JSONValue) -> JSONValue? {
        Self.resolve(steps[...], from: isRelative ? current : root)
    }

    /// The value `steps` lead to from `start`: the first member of a name, an element by index (a member
    /// step of digits indexes an array too).
    static func resolve(_ steps: ArraySlice<Step>, from start: JSONValue) -> JSONValue? {
        var value = start
        for step in steps {
            switch (step, value) {
            case (.member(let name), .object(let members)):
                guard let member = members.first(where: { $0.key == name }) else { return nil }
                value = member.value
            case (.member(let name), .array(let elements)):
                guard let index = Int(name), elements.indices.contains(index) else { return nil }
                value = elements[index]
            case (.index(let index), .array(let elements)):
                guard elements.indices.contains(index) else { return nil }
                value = elements[index]
            default:
                return nil
            }
        }
        return value
    }

    /// The member name the path ends in, so a mapped field is not also read as a metric.
    var lastMember: String? {
        if case .member(let name)? = steps.last { return name }
        return nil
    }
}

/// A payload mapping that cannot be used, and why.
public struct PayloadMappingError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
