/// The paths a mapping reads from the payload's root, as a trie of their steps, so that one pass over the
/// bytes parses into ``JSONValue`` only what the paths lead to and skips everything else: skipped members
/// are checked for syntax but never become Strings or arrays, and keys are compared as UTF-8 bytes.
///
/// The value a path ends at is parsed whole (a readings object, a time string); a path that goes on below
/// another path's end is read from that value. Paths resolve as ``JSONPath/resolve(root:current:)`` does:
/// a repeated key counts only where it first appears, and a member step of digits is also an array index.
struct PathSelection: Sendable {
    struct Node: Sendable {
        /// The member name this node's step matches, as UTF-8; nil for an index step.
        var memberName: [UInt8]?
        /// The array element it matches: an index step, or a member step of digits.
        var position: Int?
        /// How many steps lead here from the root.
        var depth: Int
        var children: [Int] = []
        /// Whether a path ends here, so the value is parsed whole.
        var isEnd = false
        /// The paths through this node (ends included), read from its value when it is parsed whole.
        var paths: [Int] = []
    }

    /// Each path's steps from the root; a path is known by its position here.
    let paths: [[JSONPath.Step]]
    private(set) var nodes = [Node(depth: 0)]

    /// At most this many children are told apart by a bit each while an object is read; a node with more
    /// (a mapping with that many sibling paths) is parsed whole instead.
    static let maxChildren = UInt64.bitWidth

    init(paths: [[JSONPath.Step]]) {
        self.paths = paths
        for (id, path) in paths.enumerated() {
            var node = 0
            nodes[node].paths.append(id)
            for step in path {
                node = child(of: node, for: step)
                nodes[node].paths.append(id)
            }
            nodes[node].isEnd = true
        }
    }

    /// Whether the value at `node` is parsed whole rather than walked.
    func isParsedWhole(_ node: Node) -> Bool {
        node.isEnd || node.children.count > Self.maxChildren
    }

    private mutating func child(of parent: Int, for step: JSONPath.Step) -> Int {
        var name: [UInt8]?
        var position: Int?
        switch step {
        case .member(let member):
            name = Array(member.utf8)
            position = Int(member).flatMap { $0 >= 0 ? $0 : nil }
        case .index(let index):
            position = index
        }
        if let existing = nodes[parent].children.first(where: { nodes[$0].memberName == name && nodes[$0].position == position }) {
            return existing
        }
        nodes.append(Node(memberName: name, position: position, depth: nodes[parent].depth + 1))
        nodes[parent].children.append(nodes.count - 1)
        return nodes.count - 1
    }
}

extension JSONTelemetryDecoder {
    /// Parses the payload with the one-pass decoder's syntax rules, limits and problems (anywhere in
    /// the payload) but keeps only the values `selection`'s paths lead to: `result[id]` is path `id`'s value,
    /// or nil where it leads nowhere.
    mutating func parseSelected(_ selection: PathSelection) throws(Fatal) -> [JSONValue?] {
        var values = [JSONValue?](repeating: nil, count: selection.paths.count)
        skipWhitespace()
        guard index < bytes.count else { throw syntax("the payload holds no JSON value") }
        try select(node: 0, depth: 1, in: selection, into: &values)
        skipWhitespace()
        if index < bytes.count {
            throw syntax("unexpected \(describeByte(at: index)) after the JSON value")
        }
        return values
    }

    private mutating func select(node id: Int, depth: Int, in selection: PathSelection, into values: inout [JSONValue?]) throws(Fatal) {
        let node = selection.nodes[id]
        if selection.isParsedWhole(node) {
            let value = try parseValue(depth: depth)
            for path in node.paths {
                values[path] = JSONPath.resolve(selection.paths[path].dropFirst(node.depth), from: value)
            }
            return
        }
        guard index < bytes.count else { throw syntax("expected a value") }
        // Each child is taken where it first matches, as a path resolves through the first of repeated keys.
        var taken: UInt64 = 0
        switch bytes[index] {
        case UInt8(ascii: "{"):
            try checkDepth(depth)
            index += 1
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw syntax(index < bytes.count ? "expected a key string, found \(describeByte(at: index))" : "the object is not closed")
                }
                let key = try scanString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw syntax("expected ':' after the key") }
                index += 1
                skipWhitespace()
                var matched: Int?
                for (bit, child) in node.children.enumerated() where taken & (1 << UInt64(bit)) == 0 {
                    if let name = selection.nodes[child].memberName, keyEquals(key, name) {
                        taken |= 1 << UInt64(bit)
                        matched = child
                        break
                    }
                }
                if let matched {
                    try select(node: matched, depth: depth + 1, in: selection, into: &values)
                } else {
                    try skipValue(depth: depth + 1)
                }
                guard try continuesAfterElement(closedBy: UInt8(ascii: "}")) else { return }
            }
        case UInt8(ascii: "["):
            try checkDepth(depth)
            index += 1
            skipWhitespace()
            if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                index += 1
                return
            }
            var position = 0
            while true {
                skipWhitespace()
                // An index step and a member step of the same digits are two children: both read the element.
                var matched: [Int] = []
                for child in node.children where selection.nodes[child].position == position {
                    matched.append(child)
                }
                switch matched.count {
                case 0: try skipValue(depth: depth + 1)
                case 1: try select(node: matched[0], depth: depth + 1, in: selection, into: &values)
                default:
                    let value = try parseValue(depth: depth + 1)
                    for child in matched {
                        let childNode = selection.nodes[child]
                        for path in childNode.paths {
                            values[path] = JSONPath.resolve(selection.paths[path].dropFirst(childNode.depth), from: value)
                        }
                    }
                }
                position += 1
                guard try continuesAfterElement(closedBy: UInt8(ascii: "]")) else { return }
            }
        default:
            // A scalar where a path wanted an object or a list: the path leads nowhere.
            try skipValue(depth: depth)
        }
    }
}
