/// A metric name or a glob over it: `*` matches any run of characters, `?` one character.
public struct MetricPattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String
    private let bytes: [UInt8]

    public init(_ text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    public var description: String { text }

    public func matches(_ metric: String) -> Bool {
        var name = metric
        return name.withUTF8 { Self.glob(bytes[...], $0[...]) }
    }

    // Iterative glob with single-star backtracking: linear enough for metric names, no recursion.
    private static func glob(_ pattern: ArraySlice<UInt8>, _ name: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        let star = UInt8(ascii: "*"), any = UInt8(ascii: "?")
        var p = pattern.startIndex, n = name.startIndex
        var starAt: Int? = nil, resumeAt = n
        while n < name.endIndex {
            if p < pattern.endIndex, pattern[p] == any || pattern[p] == name[n] {
                p += 1
                n += 1
            } else if p < pattern.endIndex, pattern[p] == star {
                starAt = p
                resumeAt = n
                p += 1
            } else if let s = starAt {
                p = s + 1
                resumeAt += 1
                n = resumeAt
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == star { p += 1 }
        return p == pattern.endIndex
    }
}
