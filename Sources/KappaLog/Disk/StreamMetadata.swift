/// A stream's `stream.meta`: what must never change after creation, in a small text file.
struct StreamMetadata: Equatable, Sendable {
    static let fileName = "stream.meta"
    private static let header = "kappa-log-stream 1"

    var partitionCount: Int
    var hash: String = StableHash.name

    func serialized() -> [UInt8] {
        Array("\(Self.header)\npartitions \(partitionCount)\nhash \(hash)\n".utf8)
    }

    static func parse(_ bytes: [UInt8], path: String) throws(LogError) -> StreamMetadata {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        var fields: [Substring: Substring] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard lines.first == Substring(header), let count = fields["partitions"].flatMap({ Int($0) }), count > 0,
              let hash = fields["hash"], hash == Substring(StableHash.name)
        else {
            var error = LogError(code: .invalidMetadata, message: "unreadable stream metadata")
            error.path = path
            throw error
        }
        return StreamMetadata(partitionCount: count, hash: String(hash))
    }
}

/// Stream and consumer names become file names: keep them to a safe alphabet.
enum LogNames {
    static func validate(_ name: String, what: String) throws(LogError) {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        guard allowed, !name.isEmpty, name.utf8.count <= 100, !name.hasPrefix(".") else {
            throw LogError(code: .invalidArgument, message: "\(what) names use letters, digits, '-', '_' and '.', up to 100 characters: \(name)")
        }
    }
}
