import Foundation
import KappaCore
import KappaTestSupport
import Testing
@testable import KappaLog

/// Inputs from `Fuzz/LogRecoveryFuzz`, kept as tests: whatever bytes a segment holds, opening the log either
/// fails with a `LogError` or gives a log that reads to its end and takes appends; it never traps.
@Suite struct FuzzRegressionTests {
    /// Segment contents: the one the fuzzer's run stopped on (a single byte, index removed; the stop was EINTR
    /// in the harness's own file copy, but a one-byte segment is worth keeping), and its neighbours.
    @Test(arguments: [[UInt8]([0x03]), [], [0x00], [UInt8](repeating: 0xFF, count: 7), [UInt8](repeating: 0, count: 61)])
    func tinySegmentsRecoverOrFailCleanly(_ contents: [UInt8]) throws {
        let directory = try TemporaryDirectory()
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        let stream = try log.createStream(named: "s", partitionCount: 1)
        for batch in 0..<3 {
            _ = try stream.append((0..<3).map { LogAppendRecord(key: "k", eventTime: testTime(batch * 3 + $0), value: [UInt8](repeating: UInt8(batch), count: 16)) })
        }
        log.close()
        let segment = try #require(try segmentFiles(directory.path, stream: "s", partition: 0).first)
        for index in try FileManager.default.contentsOfDirectory(atPath: (segment as NSString).deletingLastPathComponent) where index.hasSuffix(".index") {
            try FileManager.default.removeItem(atPath: (segment as NSString).deletingLastPathComponent + "/" + index)
        }
        try Data(contents).write(to: URL(fileURLWithPath: segment))

        let reopened: DiskLog
        do {
            reopened = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        } catch {
            return  // refusing to open a damaged log is a clean outcome
        }
        defer { reopened.close() }
        let recovered = try reopened.openStream(named: "s")
        let range = recovered.offsets(partition: 0)
        #expect(range.start <= range.highWatermark)
        var offset = range.start
        while offset < range.highWatermark {
            let batch = try recovered.read(partition: 0, from: offset)
            guard !batch.records.isEmpty else { break }
            offset = batch.nextOffset
        }
        if let position = try? recovered.append(key: "k", eventTime: testTime(100), value: [1, 2, 3]) {
            #expect(position.offset >= range.highWatermark)
        }
    }
}
