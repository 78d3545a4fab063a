import Foundation
import KappaCore
import Testing
@testable import KappaLog

/// Five batches of three equal-sized records in one segment, closed cleanly, and where the last batch starts.
///
/// `write(_:after:)` puts damaged segment bytes back with the partition state a clean close left, or the one a
/// crash leaves (written when the log was opened, before any append), and removes what an earlier recovery added.
private struct PristineLog {
    static let batches = 5
    static let perBatch = 3
    static let handedOut = Int64(batches * perBatch)
    static let kept = Int64((batches - 1) * perBatch)
    let directory: TemporaryDirectory
    let partitionDirectory: String
    let segmentPath: String
    let bytes: [UInt8]
    let batchLength: Int
    let stateAfterCleanClose: [UInt8]
    let stateAfterCrash: [UInt8]

    enum Stop { case clean, crash }

    init() throws {
        directory = try TemporaryDirectory()
        partitionDirectory = "\(directory.path)/s/p0000"
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        let stream = try log.createStream(named: "s", partitionCount: 1)
        stateAfterCrash = Array(try Data(contentsOf: URL(fileURLWithPath: "\(partitionDirectory)/partition.state")))
        for batch in 0..<Self.batches {
            _ = try stream.append((0..<Self.perBatch).map { record in
                LogAppendRecord(key: "k", eventTime: testTime(record), value: [UInt8](repeating: UInt8(batch), count: 20))
            })
        }
        log.close()
        stateAfterCleanClose = Array(try Data(contentsOf: URL(fileURLWithPath: "\(partitionDirectory)/partition.state")))
        segmentPath = try #require(try segmentFiles(directory.path, stream: "s", partition: 0).first)
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: segmentPath)))
        batchLength = bytes.count / Self.batches
        #expect(bytes.count == batchLength * Self.batches)
    }

    var lastBatchStart: Int { bytes.count - batchLength }

    func write(_ contents: [UInt8], after stop: Stop) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: partitionDirectory) where "\(partitionDirectory)/\(name)" != segmentPath {
            try FileManager.default.removeItem(atPath: "\(partitionDirectory)/\(name)")
        }
        try Data(contents).write(to: URL(fileURLWithPath: segmentPath))
        try Data(stop == .clean ? stateAfterCleanClose : stateAfterCrash).write(to: URL(fileURLWithPath: "\(partitionDirectory)/partition.state"))
    }

    func open() throws -> DiskLog {
        try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
    }

    /// The first four batches, as written.
    static var keptValues: [[UInt8]] {
        (0..<(batches - 1)).flatMap { batch in (0..<perBatch).map { _ in [UInt8](repeating: UInt8(batch), count: 20) } }
    }

    /// Opens the log and checks the first four batches survived, the torn tail was cut without a recorded loss,
    /// and appends resume right after the kept records.
    func expectTornTailCut(expectTruncation: Bool, _ context: String) throws {
        let log = try open()
        defer { log.close() }
        let stream = try log.openStream(named: "s")
        #expect(stream.offsets(partition: 0) == LogOffsetRange(start: 0, highWatermark: Self.kept), "\(context)")
        #expect(try readAll(stream, partition: 0).map { Array($0.value) } == Self.keptValues, "\(context)")
        #expect(log.truncatedTailCount == (expectTruncation ? 1 : 0), "\(context)")
        if expectTruncation {
            #expect(log.recoveredTails.first?.position == Int64(lastBatchStart), "\(context)")
        }
        #expect(log.recordedLosses.isEmpty, "\(context): \(log.recordedLosses)")
        #expect(try FileManager.default.attributesOfItem(atPath: segmentPath)[.size] as? Int == lastBatchStart, "\(context)")
        #expect(try stream.append(key: "k", eventTime: testTime(0), value: [9]).offset == Self.kept, "\(context)")
    }

    /// Opens the log and checks the last batch was cut as corruption: the first four batches survived, the
    /// lost offsets are recorded and never handed out again, and reads go on across them.
    func expectCorruptionCut(lost: Range<Int64>, truncated: Bool = true, _ context: String) throws {
        let log = try open()
        defer { log.close() }
        let stream = try log.openStream(named: "s")
        #expect(log.truncatedTailCount == (truncated ? 1 : 0), "\(context)")
        #expect(log.recordedLosses.map(\.offsets) == [lost], "\(context): \(log.recordedLosses)")
        #expect(log.recordedLosses.allSatisfy { !$0.acknowledged }, "\(context)")
        #expect(stream.offsets(partition: 0) == LogOffsetRange(start: 0, highWatermark: lost.upperBound), "\(context)")
        #expect(try readAll(stream, partition: 0).map { Array($0.value) } == Self.keptValues, "\(context)")
        let appended = try stream.append(key: "k", eventTime: testTime(0), value: [9])
        #expect(appended.offset == lost.upperBound, "\(context)")
        // A consumer anywhere in the lost range reads on at the first record after it.
        for offset in lost {
            let read = try stream.read(partition: 0, from: offset, limits: LogReadLimits(maxRecords: 10))
            #expect(read.records.map(\.offset) == [appended.offset], "\(context): read from \(offset)")
            #expect(read.nextOffset == appended.offset + 1, "\(context): read from \(offset)")
        }
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
    @Test func tornWriteAtEveryBytePositionOfTheLastBatchIsCutAfterACrash() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        for cut in 0..<pristine.batchLength {
            try pristine.write(Array(pristine.bytes[..<(pristine.lastBatchStart + cut)]), after: .crash)
            let report = try LogVerifier.verify(directory: pristine.directory.path)
            #expect(report.corruptions.isEmpty && report.unacknowledgedLosses.isEmpty, "cut after \(cut) bytes: \(report.problems)")
            try pristine.expectTornTailCut(expectTruncation: cut > 0, "cut after \(cut) bytes")
        }
    }

    @Test func zeroFilledTailIsCutAfterACrash() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        var damaged = pristine.bytes
        for position in pristine.lastBatchStart..<damaged.count { damaged[position] = 0 }
        try pristine.write(damaged + [UInt8](repeating: 0, count: 4096), after: .crash)
        try pristine.expectTornTailCut(expectTruncation: true, "zero-filled tail")
    }

    /// The issue's case: after a clean stop, damage anywhere in the last batch is corruption, never a torn
    /// tail, and the offsets it held are never handed out again.
    @Test func flippedBitsAtEveryByteOfTheLastBatchAfterACleanStopAreCorruptionAndNoOffsetIsReused() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        for position in pristine.lastBatchStart..<pristine.bytes.count {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                let context = "byte \(position - pristine.lastBatchStart) of the last batch ^ \(mask)"
                var damaged = pristine.bytes
                damaged[position] ^= mask
                try pristine.write(damaged, after: .clean)
                let report = try LogVerifier.verify(directory: pristine.directory.path)
                #expect(report.corruptions.count == 1 && report.problems.count == 1, "\(context): \(report.problems)")
                #expect(report.corruptions.first?.position == Int64(pristine.lastBatchStart), "\(context)")
                try pristine.expectCorruptionCut(lost: PristineLog.kept..<PristineLog.handedOut, context)
            }
        }
    }

    @Test func aTailCutOnABatchBoundaryAfterACleanStopIsALoss() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        try pristine.write(Array(pristine.bytes[..<pristine.lastBatchStart]), after: .clean)
        #expect(try LogVerifier.verify(directory: pristine.directory.path).corruptions.count == 1)
        try pristine.expectCorruptionCut(lost: PristineLog.kept..<PristineLog.handedOut, truncated: false, "whole last batch missing")
    }

    @Test func aCompleteBatchFailingItsChecksumAfterACrashIsCorruption() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        var damaged = pristine.bytes
        damaged[pristine.lastBatchStart + RecordBatch.headerSize + 3] ^= 0x04
        try pristine.write(damaged, after: .crash)
        let report = try LogVerifier.verify(directory: pristine.directory.path)
        #expect(report.corruptions.count == 1, "\(report.problems)")
        // No state knows how far offsets went: the damaged batch's own header says how many records it held.
        try pristine.expectCorruptionCut(lost: PristineLog.kept..<PristineLog.handedOut, "record bytes flipped")
    }

    @Test func aConsumerCommittedBeyondTheRecoveredEndKeepsOffsetsAboveIt() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        do {
            let log = try pristine.open()
            try log.openStream(named: "s").registerProgress(consumer: "processor.archive.v1", offsets: [0: PristineLog.handedOut])
            log.close()
        }
        try pristine.write(Array(pristine.bytes[..<(pristine.lastBatchStart + 7)]), after: .crash)
        let log = try pristine.open()
        defer { log.close() }
        let stream = try log.openStream(named: "s")
        #expect(log.recordedLosses.map(\.offsets) == [PristineLog.kept..<PristineLog.handedOut])
        #expect(try stream.append(key: "k", eventTime: testTime(0), value: [9]).offset == PristineLog.handedOut)
    }

    @Test func ensureNextOffsetSkipsLostOffsetsDurablyAndReadsCrossThem() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
            let stream = try log.createStream(named: "s", partitionCount: 1)
            for number in 0..<10 { _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)) }
            #expect(try stream.ensureNextOffset(partition: 0, atLeast: 5, reason: "behind") == nil)
            let loss = try stream.ensureNextOffset(partition: 0, atLeast: 25, reason: "processor committed 25")
            #expect(loss?.offsets == 10..<25)
            #expect(stream.offsets(partition: 0).highWatermark == 25)
            #expect(stream.waitForRecords(partition: 0, from: 12, timeout: .zero))
            let empty = try stream.read(partition: 0, from: 12, limits: LogReadLimits())
            #expect(empty.records.isEmpty && empty.nextOffset == 25)
            for number in 10..<13 {
                #expect(try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)).offset == Int64(number) + 15)
            }
            log.close()
        }
        #expect(try LogVerifier.verify(directory: directory.path).unacknowledgedLosses.count == 1)
        #expect(try LogVerifier.verify(directory: directory.path).corruptions.isEmpty)

        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        let stream = try log.openStream(named: "s")
        #expect(log.recordedLosses.map(\.offsets) == [10..<25])
        #expect(try readAll(stream, partition: 0).map(\.offset) == Array(0..<10) + Array(25..<28))
        #expect(try readAll(stream, partition: 0).map { Array($0.value) } == (0..<13).map(testValue))
        #expect(try stream.read(partition: 0, from: 17, limits: LogReadLimits(maxRecords: 1)).records.map(\.offset) == [25])
        #expect(try log.acknowledgeLosses().count == 1)
        #expect(try stream.append(key: "k", eventTime: testTime(0), value: [1]).offset == 28)
        log.close()
        let report = try LogVerifier.verify(directory: directory.path)
        #expect(report.unacknowledgedLosses.isEmpty && report.corruptions.isEmpty, "\(report.problems)")
        #expect(report.problems.count == 1, "the acknowledged loss stays listed")
    }

    @Test func aCrashBetweenRecordingALossAndSkippingItIsFinishedOnceOnOpen() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        try pristine.write(pristine.bytes, after: .crash)
        let recorded = "kappa-partition-state 1\nnext-offset 20\nclean-shutdown 0\nlost 15 20 1700000000 0 processor archive committed up to offset 20\n"
        try Data(recorded.utf8).write(to: URL(fileURLWithPath: "\(pristine.partitionDirectory)/partition.state"))
        for _ in 0..<2 {
            let log = try pristine.open()
            let stream = try log.openStream(named: "s")
            #expect(log.recordedLosses.map(\.offsets) == [15..<20])
            #expect(stream.offsets(partition: 0).highWatermark >= 20)
            #expect(try stream.append(key: "k", eventTime: testTime(0), value: [9]).offset >= 20)
            log.close()
        }
    }

    @Test func aLogWithoutPartitionStateOpensAsAfterACrash() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        try pristine.write(pristine.bytes, after: .crash)
        try FileManager.default.removeItem(atPath: "\(pristine.partitionDirectory)/partition.state")
        let log = try pristine.open()
        defer { log.close() }
        let stream = try log.openStream(named: "s")
        #expect(stream.offsets(partition: 0).highWatermark == PristineLog.handedOut)
        #expect(log.recordedLosses.isEmpty && log.truncatedTailCount == 0)
        #expect(try stream.append(key: "k", eventTime: testTime(0), value: [9]).offset == PristineLog.handedOut)
    }

    @Test func corruptionInTheMiddleIsReportedPreciselyAndNothingIsCut() throws {
        let pristine = try PristineLog()
        defer { pristine.directory.remove() }
        var damaged = pristine.bytes
        let secondBatch = pristine.batchLength
        damaged[secondBatch + 30] ^= 0x10
        try pristine.write(damaged, after: .clean)
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
