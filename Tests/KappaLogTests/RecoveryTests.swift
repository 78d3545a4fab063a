import Foundation
import KappaCore
import Testing
@testable import KappaLog

/// Five batches of three equal-sized records in one segment, and where the last batch starts.
private struct PristineLog {
    static let batches = 5
    static let perBatch = 3
    let directory: TemporaryDirectory
    let segmentPath: String
    let bytes: [UInt8]
    let batchLength: Int

    init() throws {
        directory = try TemporaryDirectory()
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        let stream = try log.createStream(named: "s", partitionCount: 1)
        for batch in 0..<Self.batches {
            _ = try stream.append((0..<Self.perBatch).map { record in
                LogAppendRecord(key: "k", eventTime: testTime(record), value: [UInt8](repeating: UInt8(batch), count: 20))
            })
        }
        log.close()
        segmentPath = try #require(try segmentFiles(directory.path, stream: "s", partition: 0).first)
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: segmentPath)))
        batchLength = bytes.count / Self.batches
        #expect(bytes.count == batchLength * Self.batches)
    }

    var lastBatchStart: Int { bytes.count - batchLength }

    func write(_ contents: [UInt8]) throws {
        try Data(contents).write(to: URL(fileURLWithPath: segmentPath))
    }

    /// Opens the log and checks the first four batches survived, the tail was cut as expected, and appends resume.
    func expectRecoveredToFourBatches(expectTruncation: Bool, _ context: String) throws {
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        defer { log.close() }
        let stream = try log.openStream(named: "s")
        let kept = Int64((Self.batches - 1) * Self.perBatch)
        #expect(stream.offsets(partition: 0) == LogOffsetRange(start: 0, highWatermark: kept), "\(context)")
        let records = try readAll(stream, partition: 0)
        #expect(records.map { Array($0.value) } == (0..<(Self.batches - 1)).flatMap { batch in
            (0..<Self.perBatch).map { _ in [UInt8](repeating: UInt8(batch), count: 20) }
        }, "\(context)")
        #expect(log.truncatedTailCount == (expectTruncation ? 1 : 0), "\(context)")
        if expectTruncation {
            #expect(log.recoveredTails.first?.position == Int64(lastBatchStart), "\(context)")
        }
        #expect(try FileManager.default.attributesOfItem(atPath: segmentPath)[.size] as? Int == lastBatchStart, "\(context)")
        #expect(try stream.append(key: "k", eventTime: testTime(0), value: [9]).offset == kept, "\(context)")
    }
}

/// Numbered records in a partition of 1 KiB segments, closed; returns the segment files.
private func writeRolledLog(_ directory: TemporaryDirectory, records: Int) throws -> [String] {
    let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
    let stream = try log.createStream(named: "s", partitionCount: 1)
    for number in 0..<records { _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)) }
    log.close()
    return try segmentFiles(directory.path, stream: "s", partition: 0)
}

@Suite struct RecoveryTests {
    @Test func tornWriteAtEveryBytePositionOfTheLastBatchIsCut() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        for cut in 0..<pristine.batchLength {
            try pristine.write(Array(pristine.bytes[..<(pristine.lastBatchStart + cut)]))
            try pristine.expectRecoveredToFourBatches(expectTruncation: cut > 0, "cut after \(cut) bytes")
        }
    }

    @Test func flippedByteAtEveryPositionOfTheLastBatchIsCut() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        for position in pristine.lastBatchStart..<pristine.bytes.count {
            for mask: UInt8 in [0x01, 0xFF] {
                var damaged = pristine.bytes
                damaged[position] ^= mask
                try pristine.write(damaged)
                try pristine.expectRecoveredToFourBatches(expectTruncation: true, "byte \(position) ^ \(mask)")
            }
        }
    }

    @Test func zeroFilledTailIsCut() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        var damaged = pristine.bytes
        for position in pristine.lastBatchStart..<damaged.count { damaged[position] = 0 }
        try pristine.write(damaged + [UInt8](repeating: 0, count: 4096))
        try pristine.expectRecoveredToFourBatches(expectTruncation: true, "zero-filled tail")
    }

    @Test func corruptionInTheMiddleIsReportedPreciselyAndNothingIsCut() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        var damaged = pristine.bytes
        let secondBatch = pristine.batchLength
        damaged[secondBatch + 30] ^= 0x10
        try pristine.write(damaged)
        do {
            _ = try DiskLog(directory: pristine.directory.path, configuration: testConfiguration(), logger: quietLogger)
            Issue.record("opening a log with corruption in the middle succeeded")
        } catch {
            #expect(error.code == .corruption)
            #expect(error.stream == "s")
            #expect(error.partition == 0)
            #expect(error.segment == 0)
            #expect(error.position == Int64(secondBatch))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: pristine.segmentPath)).count == damaged.count, "nothing was truncated")
        let report = try LogVerifier.verify(directory: pristine.directory.path)
        #expect(report.problems.count == 1)
        #expect(report.problems.first?.segment == 0)
        #expect(report.problems.first?.position == Int64(secondBatch))
    }

    @Test func missingOrDamagedIndexesAreRebuilt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let segments = try writeRolledLog(directory, records: 300)
        #expect(segments.count > 3)
        let firstIndex = segments[0].replacingOccurrences(of: ".log", with: ".index")
        let secondIndex = segments[1].replacingOccurrences(of: ".log", with: ".index")
        try FileManager.default.removeItem(atPath: firstIndex)
        var damaged = Array(try Data(contentsOf: URL(fileURLWithPath: secondIndex)))
        damaged[10] ^= 0xFF
        try Data(damaged).write(to: URL(fileURLWithPath: secondIndex))

        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
        let stream = try log.openStream(named: "s")
        #expect(try readAll(stream, partition: 0).map { Array($0.value) } == (0..<300).map(testValue))
        #expect(try stream.read(partition: 0, from: 150, limits: LogReadLimits(maxRecords: 1)).records.first.map { Array($0.value) } == testValue(150))
        #expect(FileManager.default.fileExists(atPath: firstIndex))
        let secondBase = try #require(Int64(URL(fileURLWithPath: segments[1]).deletingPathExtension().lastPathComponent))
        let rebuiltBytes = Array(try Data(contentsOf: URL(fileURLWithPath: secondIndex)))
        let rebuilt = try #require(SegmentIndex.deserialize(rebuiltBytes, baseOffset: secondBase))
        #expect(rebuilt.size == Int64(try Data(contentsOf: URL(fileURLWithPath: segments[1])).count))
        log.close()
    }

    @Test func corruptionInAClosedSegmentWithoutIndexIsReported() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let segments = try writeRolledLog(directory, records: 100)
        try FileManager.default.removeItem(atPath: segments[0].replacingOccurrences(of: ".log", with: ".index"))
        var damaged = Array(try Data(contentsOf: URL(fileURLWithPath: segments[0])))
        damaged[damaged.count - 3] ^= 0x01
        try Data(damaged).write(to: URL(fileURLWithPath: segments[0]))
        #expect {
            _ = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
        } throws: { error in
            (error as? LogError)?.code == .corruption && (error as? LogError)?.segment == 0
        }
    }
}
