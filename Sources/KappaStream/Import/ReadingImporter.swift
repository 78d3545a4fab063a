import KappaCore
public import KappaLog

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends the readings of import files to the readings stream, encoded as the bridge encodes them
/// (``ReadingRecord``, keyed by device), in batches. Blocks on file reads and appends: call it from a
/// thread of its own, not from Swift's cooperative pool.
public struct ReadingImporter {
    public struct Summary: Sendable, Hashable {
        public var lines = 0
        public var readings = 0
        public var badLines = 0

        public init() {}
    }

    public struct BadLine: Sendable, Hashable {
        public var file: String
        public var line: Int
        public var problem: ImportProblem
    }

    private let stream: any LogStream
    private let batchSize: Int

    public init(stream: any LogStream, batchSize: Int = 10_000) {
        self.stream = stream
        self.batchSize = batchSize
    }

    /// Imports one file; `onBadLine` hears of each refused line, `onProgress` of the running totals after
    /// each batch appended.
    public func importFile(
        _ path: String,
        parser: ImportLineParser,
        summary: inout Summary,
        onBadLine: (BadLine) -> Void,
        onProgress: (Summary) -> Void = { _ in }
    ) throws(ImportError) {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ImportError(path: path, message: "cannot open: errno \(errno)") }
        defer { close(descriptor) }
        var parser = parser
        var pending: [LogAppendRecord] = []
        pending.reserveCapacity(batchSize)
        var carry: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var lineNumber = 0

        func flush() throws(ImportError) {
            guard !pending.isEmpty else { return }
            do { _ = try stream.append(pending) } catch { throw ImportError(path: path, message: "appending to the log failed: \(error)") }
            pending.removeAll(keepingCapacity: true)
            onProgress(summary)
        }
        func take(_ line: ArraySlice<UInt8>) {
            lineNumber += 1
            summary.lines += 1
            switch parser.parse(Substring(decoding: line, as: UTF8.self)) {
            case .success(let readings):
                for reading in readings {
                    pending.append(LogAppendRecord(reading: reading))
                }
                summary.readings += readings.count
            case .failure(let problem):
                summary.badLines += 1
                onBadLine(BadLine(file: path, line: lineNumber, problem: problem))
            }
        }

        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count >= 0 else {
                if errno == EINTR { continue }
                throw ImportError(path: path, message: "read failed: errno \(errno)")
            }
            if count == 0 { break }
            carry.append(contentsOf: buffer[0..<count])
            var start = 0
            while let newline = carry[start...].firstIndex(of: UInt8(ascii: "\n")) {
                take(carry[start..<newline])
                start = newline + 1
                if pending.count >= batchSize { try flush() }
            }
            carry.removeFirst(start)
        }
        if !carry.isEmpty { take(carry[...]) }
        try flush()
    }
}

/// An import file could not be read or appended.
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
