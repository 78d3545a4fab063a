import Foundation
import KappaCore
import Testing
@testable import KappaLog

/// A batch's checksum and framing are checked by the first read of it in a process, not by every reader
/// (see ``Partition``); corruption that reaches a process from the disk is still found.
@Suite struct CheckedOncePerProcessTests {
    /// Flips one byte of a segment file in place, behind the log's back.
    private func flip(_ path: String, at position: Int) throws {
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(position))
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: UInt64(position))
        try handle.write(contentsOf: Data([byte ^ 0x10]))
    }

    /// Three closed segments and an active one; closed segments whose index matches are not scanned at open.
    private func rolledLog(_ directory: TemporaryDirectory) throws -> [String] {
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
        let stream = try log.createStream(named: "s", partitionCount: 1)
        for number in 0..<60 { _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)) }
        log.close()
        let segments = try segmentFiles(directory.path, stream: "s", partition: 0)
        #expect(segments.count >= 3)
        return segments
    }

    @Test func corruptionNoReadHasCheckedYetIsFoundByEveryRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let segments = try rolledLog(directory)
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
        defer { log.close() }
        let stream = try log.openStream(named: "s")
        try flip(segments[0], at: RecordBatch.headerSize + 3)
        for attempt in 0..<3 {
            #expect(throws: LogError.self, "read \(attempt)") { try stream.read(partition: 0, from: 0, limits: LogReadLimits()) }
        }
        do {
            _ = try stream.read(partition: 0, from: 0, limits: LogReadLimits())
        } catch {
            #expect(error.code == .corruption)
            #expect(error.segment == 0)
        }
    }

    /// What one process checked it trusts for its life; the next process checks again what it reads from disk.
    @Test func aBatchIsCheckedOnceInAProcessAndAgainAfterARestart() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let segments = try rolledLog(directory)
        let original = testValue(0)
        do {
            let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
            defer { log.close() }
            let stream = try log.openStream(named: "s")
            let first = try readAll(stream, partition: 0)
            #expect(first.map { Array($0.value) } == (0..<60).map(testValue))
            // The first record's value starts after the header and its three one-byte varints and key "k".
            try flip(segments[0], at: RecordBatch.headerSize + 4)
            let again = try stream.read(partition: 0, from: 0, limits: LogReadLimits(maxRecords: 1))
            var expected = original
            expected[0] ^= 0x10
            #expect(again.records.first.map { Array($0.value) } == expected, "a second read of a checked batch is not checked again")
        }
        let reopened = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 1024), logger: quietLogger)
        defer { reopened.close() }
        let stream = try reopened.openStream(named: "s")
        do {
            _ = try stream.read(partition: 0, from: 0, limits: LogReadLimits())
            Issue.record("a restarted log read a corrupt batch without noticing")
        } catch {
            #expect(error.code == .corruption)
            #expect(error.segment == 0)
            #expect(error.position == 0)
        }
        // The segments after the damaged one still read, checked, in the new process.
        let second = try #require(Int(URL(fileURLWithPath: segments[1]).deletingPathExtension().lastPathComponent))
        #expect(try readAll(stream, partition: 0, from: Int64(second)).map { Array($0.value) } == (second..<60).map(testValue))
    }

    /// Readers on the tail: each new batch is checked by whichever read gets it first, and every reader gets
    /// the same records as a log that checks every read.
    @Test func readersOnTheTailGetEveryRecordAsAppended() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 4096), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        var offsets = [Int64](repeating: 0, count: 4)
        var read = [[[UInt8]]](repeating: [], count: 4)
        for number in 0..<400 {
            _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number))
            let reader = number % 4
            let result = try stream.read(partition: 0, from: offsets[reader], limits: LogReadLimits(maxRecords: 1 + number % 7))
            read[reader] += result.records.map { Array($0.value) }
            offsets[reader] = result.nextOffset
        }
        for reader in 0..<4 {
            read[reader] += try readAll(stream, partition: 0, from: offsets[reader]).map { Array($0.value) }
            #expect(read[reader] == (0..<400).map(testValue), "reader \(reader)")
        }
    }
}
