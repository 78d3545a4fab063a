import Dispatch
import KappaCore
import Testing
@testable import KappaLog

@Suite struct ConcurrencyTests {
    @Test(.timeLimit(.minutes(1))) func writersAndWaitingReadersSeeEveryRecordInOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(segmentMaxBytes: 16 << 10, fsync: .interval(.milliseconds(5), bytes: 8192)), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 2)
        let writers = 4
        let perWriter = 2000
        let total = writers * perWriter

        // Readers start before anything is written and wait: one async per partition, one on a plain thread.
        async let asyncCounts: [Int] = withThrowingTaskGroup(of: Int.self) { group in
            for partition in 0..<2 {
                let expectedHere = perWriter * writersOn(partition: partition, stream: stream, writers: writers)
                group.addTask {
                    var offset: Int64 = 0
                    var lastPerWriter: [Int: Int] = [:]
                    var seen = 0
                    while seen < expectedHere {
                        let result = try await stream.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 500))
                        if result.records.isEmpty {
                            try await stream.waitForRecords(partition: partition, from: offset)
                            continue
                        }
                        #expect(result.records.first?.offset == offset)
                        for record in result.records {
                            // Per key, records come back in the order they were appended, with none missing.
                            let writer = Int(record.key.last! - UInt8(ascii: "0"))
                            let number = Int(String(decoding: record.value, as: UTF8.self))!
                            #expect(number == lastPerWriter[writer, default: -1] + 1)
                            lastPerWriter[writer] = number
                        }
                        seen += result.records.count
                        offset = result.nextOffset
                    }
                    return seen
                }
            }
            var counts: [Int] = []
            for try await count in group { counts.append(count) }
            return counts
        }
        let threadCount = ThreadReader(stream: stream, expected: total).start()

        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var number = 0
                    while number < perWriter {
                        let count = min(perWriter - number, writer % 2 == 0 ? 1 : 37)
                        let records = (number..<(number + count)).map {
                            LogAppendRecord(key: "writer-\(writer)", eventTime: testTime($0), value: Array(String($0).utf8))
                        }
                        _ = try stream.append(records)
                        number += count
                    }
                }
            }
            try await group.waitForAll()
        }
        let counts = try await asyncCounts
        #expect(counts.reduce(0, +) == total)
        #expect(await threadCount.value == total)
    }

    @Test func synchronousWaitTimesOutWithoutData() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        #expect(stream.waitForRecords(partition: 0, from: 0, timeout: .milliseconds(20)) == false)
        _ = try stream.append(key: "k", eventTime: testTime(0), value: [1])
        #expect(stream.waitForRecords(partition: 0, from: 0, timeout: .milliseconds(20)) == true)
    }

    @Test(.timeLimit(.minutes(1))) func cancellingAWaiterEndsItsWait() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        let waiter = Task { try await stream.waitForRecords(partition: 0, from: 0) }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }
}

private func writersOn(partition: Int, stream: DiskStream, writers: Int) -> Int {
    (0..<writers).filter { stream.partition(forKey: "writer-\($0)") == partition }.count
}

/// A reader on a plain thread using the synchronous read and wait, as a non-async consumer would.
private struct ThreadReader: Sendable {
    let stream: DiskStream
    let expected: Int

    func start() -> Task<Int, Never> {
        let stream = stream
        let expected = expected
        return Task {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    var offsets: [Int64] = [0, 0]
                    var seen = 0
                    while seen < expected {
                        var progressed = false
                        for partition in 0..<2 {
                            guard let result = try? stream.read(partition: partition, from: offsets[partition], limits: LogReadLimits(maxRecords: 300)) else { continue }
                            seen += result.records.count
                            offsets[partition] = result.nextOffset
                            progressed = progressed || !result.records.isEmpty
                        }
                        if !progressed {
                            _ = stream.waitForRecords(partition: 0, from: offsets[0], timeout: .milliseconds(50))
                        }
                    }
                    continuation.resume(returning: seen)
                }
            }
        }
    }
}
