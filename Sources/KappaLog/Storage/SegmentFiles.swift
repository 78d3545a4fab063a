/// Names of a partition's files: `<20-digit base offset>.log` and `.index`, so names sort by offset.
enum SegmentFiles {
    static let logSuffix = ".log"
    static let indexSuffix = ".index"

    static func name(baseOffset: Int64) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    static func logPath(directory: String, baseOffset: Int64) -> String {
        "\(directory)/\(name(baseOffset: baseOffset))\(logSuffix)"
    }

    static func indexPath(directory: String, baseOffset: Int64) -> String {
        "\(directory)/\(name(baseOffset: baseOffset))\(indexSuffix)"
    }

    /// The base offsets of the segment files present, ascending.
    static func baseOffsets(in directory: String) throws(LogError) -> [Int64] {
        try FileSystem.contents(of: directory).compactMap { name in
            guard name.hasSuffix(logSuffix), name.count == 20 + logSuffix.count else { return nil }
            return Int64(name.dropLast(logSuffix.count))
        }.sorted()
    }
}
