import KappaCore
import Testing
@testable import KappaLog

@Suite struct AppendReadTests {
    @Test func recordsRoundTripAcrossSegmentRollsAndReopen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 2048), logger: quietLogger)
        var stream = try log.createStream(named: "readings", partitionCount: 1)
        for number in 0..<500 {
            let position = try stream.append(key: "device-1", eventTime: testTime(number), value: testValue(number))
            #expect(position == LogPosition(partition: 0, offset: Int64(number)))
        }
        #expect(try segmentFiles(directory.path, stream: "readings", partition: 0).count > 5)
        func check() throws {
            let records = try readAll(stream, partition: 0)
            #expect(records.map(\.offset) == (0..<500).map(Int64.init))
            #expect(records.map { Array($0.value) } == (0..<500).map(testValue))
            #expect(records.map(\.eventTime) == (0..<500).map(testTime))
            #expect(records.allSatisfy { Array($0.key) == Array("device-1".utf8) })
        }
        try check()
        log.close()
        log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 2048), logger: quietLogger)
        stream = try log.openStream(named: "readings")
        try check()
        #expect(log.truncatedTailCount == 0)
        #expect(try stream.append(key: "device-1", eventTime: testTime(500), value: testValue(500)).offset == 500)
        log.close()
    }

    @Test func readsStartAtAnyOffsetAndRespectLimits() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 4096), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        for start in stride(from: 0, to: 300, by: 30) {
            _ = try stream.append((start..<(start + 30)).map { LogAppendRecord(key: "k", eventTime: testTime($0), value: testValue($0)) })
        }
        for offset in [0, 1, 29, 30, 31, 150, 298, 299] {
            let result = try stream.read(partition: 0, from: Int64(offset), limits: LogReadLimits(maxRecords: 7))
            let expected = min(7, 300 - offset)
            #expect(result.records.map(\.offset) == (0..<expected).map { Int64(offset + $0) })
            #expect(result.records.map { Array($0.value) } == (0..<expected).map { testValue(offset + $0) })
            #expect(result.nextOffset == Int64(offset + expected))
        }
        let small = try stream.read(partition: 0, from: 0, limits: LogReadLimits(maxRecords: 1000, maxBytes: 10))
        #expect(small.records.count == 30, "at least one whole batch, however small maxBytes is")
        #expect(try stream.read(partition: 0, from: 300, limits: LogReadLimits()).records.isEmpty)
        #expect(throws: LogError.self) { try stream.read(partition: 0, from: 301, limits: LogReadLimits()) }
    }

    /// A read sizes its buffer by the sparse index, to the batches holding the records it may return: whatever
    /// the batch sizes and wherever the index entries fall, it still returns `maxRecords` records when there are
    /// that many, and the records within a batch it only partly wants.
    @Test func readsSizedByTheIndexReturnEveryWantedRecord() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        // Batches of 1 to 9 records: index entries (every 256 bytes) fall on batches of every size.
        var total = 0
        for size in (0..<120).map({ 1 + $0 * 7 % 9 }) {
            _ = try stream.append((total..<(total + size)).map { LogAppendRecord(key: "k", eventTime: testTime($0), value: testValue($0)) })
            total += size
        }
        for offset in stride(from: 0, to: total, by: 13) {
            for maxRecords in [1, 2, 5, 17, 64, 1_000] {
                let result = try stream.read(partition: 0, from: Int64(offset), limits: LogReadLimits(maxRecords: maxRecords, maxBytes: 1 << 20))
                let expected = min(maxRecords, total - offset)
                #expect(result.records.map(\.offset) == (0..<expected).map { Int64(offset + $0) }, "from \(offset), at most \(maxRecords)")
                #expect(result.records.map { Array($0.value) } == (0..<expected).map { testValue(offset + $0) })
            }
        }
    }

    @Test func seekByTimeFindsTheFirstRecordAtOrAfter() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 3000), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        // Times mostly increase, with late records mixed in: every tenth record is 25 ms late.
        let times = (0..<400).map { $0 % 10 == 9 ? $0 * 10 - 250 : $0 * 10 }
        for chunk in stride(from: 0, to: 400, by: 8) {
            _ = try stream.append((chunk..<(chunk + 8)).map { LogAppendRecord(key: "k", eventTime: testTime(times[$0]), value: testValue($0)) })
        }
        for target in [-5000, 0, 1, 95, 500, 1234, 3990, 3991, 5000] {
            // The first offset after which the running maximum reaches the target.
            var runningMax = Int.min
            var expected = 400
            for (offset, time) in times.enumerated() {
                runningMax = max(runningMax, time)
                if runningMax >= target {
                    expected = offset
                    break
                }
            }
            #expect(try stream.offset(partition: 0, atOrAfter: testTime(target)) == Int64(expected), "target \(target)")
        }
    }

    @Test func keysRouteStablyAndBatchPositionsFollowInputOrder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 8)
        // FNV-1a of the key modulo 8, computed independently of the log.
        #expect(stream.partition(forKey: "a") == Int(UInt64(0xAF63_DC4C_8601_EC8C) % 8))
        let records = (0..<200).map { LogAppendRecord(key: "device-\($0 % 13)", eventTime: testTime($0), value: testValue($0)) }
        let positions = try stream.append(records)
        #expect(positions.map(\.partition) == records.map { stream.partition(forKey: $0.key) })
        for partition in 0..<8 {
            let stored = try readAll(stream, partition: partition)
            let expected = records.indices.filter { positions[$0].partition == partition }
            #expect(stored.map { Array($0.value) } == expected.map { records[$0].value })
            #expect(stored.map(\.offset) == expected.map { positions[$0].offset })
        }
        #expect(throws: LogError.self) { try log.createStream(named: "s", partitionCount: 4) }
        #expect(throws: LogError.self) { try log.openStream(named: "missing") }
        #expect(try log.streamNames() == ["s"])
    }

    @Test func consumerOffsetsPersistAcrossReopen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        var stream = try log.createStream(named: "s", partitionCount: 2)
        try stream.commit(group: "archive", offsets: [0: 10, 1: 3])
        try stream.commit(group: "archive", offsets: [1: 5])
        try stream.registerProgress(consumer: "rollups", offsets: [0: 2])
        log.close()
        log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        stream = try log.openStream(named: "s")
        #expect(try stream.committedOffsets(group: "archive") == [0: 10, 1: 5])
        #expect(try stream.committedOffsets(group: "rollups") == [0: 2])
        #expect(try stream.committedOffsets(group: "nobody") == [:])
        #expect(throws: LogError.self) { try stream.commit(group: "../escape", offsets: [0: 1]) }
        log.close()
    }

    @Test func fsyncAlwaysWithConcurrentAppendersKeepsEveryRecord() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(fsync: .always), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for number in 0..<50 {
                        _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(writer * 1000 + number))
                    }
                }
            }
            try await group.waitForAll()
        }
        let values = Set(try readAll(stream, partition: 0).map { Array($0.value) })
        #expect(values == Set((0..<4).flatMap { writer in (0..<50).map { testValue(writer * 1000 + $0) } }))
    }
}
