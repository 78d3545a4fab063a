import KappaCore
import Testing
@testable import KappaLog

/// `read(_:limits:totalRecords:)`: several partitions in one call give what one read each would.
@Suite struct ReadSeveralPartitionsTests {
    /// The blocking read (in an async test, the call would pick the async one).
    private func readBlocking(_ stream: DiskStream, partition: Int, from offset: Int64, limits: LogReadLimits) throws -> LogReadResult {
        try stream.read(partition: partition, from: offset, limits: limits)
    }

    private func filledStream(_ directory: TemporaryDirectory) throws -> (DiskLog, DiskStream) {
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(), logger: quietLogger)
        let stream = try log.createStream(named: "s", partitionCount: 4)
        // Two devices per partition, so every partition holds records.
        var keys: [[UInt8]] = []
        for partition in 0..<4 {
            keys += (0..<1000).map { Array("device-\($0)".utf8) }.filter { stream.partition(forKey: $0) == partition }.prefix(2)
        }
        var records: [LogAppendRecord] = []
        for number in 0..<200 {
            records.append(LogAppendRecord(key: keys[number % keys.count], eventTime: testTime(number), value: testValue(number)))
        }
        _ = try stream.append(records)
        return (log, stream)
    }

    @Test func severalPartitionsReadAsOneReadEachInTheOrderGiven() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (log, stream) = try filledStream(directory)
        defer { log.close() }
        let requests: [(partition: Int, offset: Int64)] = [(2, 3), (0, 0), (3, 1), (1, 0)]
        let limits = LogReadLimits(maxRecords: 10)
        let together = try await stream.read(requests, limits: limits, totalRecords: 1000)
        #expect(together.count == requests.count)
        for (request, result) in zip(requests, together) {
            let alone = try readBlocking(stream, partition: request.partition, from: request.offset, limits: limits)
            #expect(result.records.map(\.offset) == alone.records.map(\.offset), "partition \(request.partition)")
            #expect(result.records.map { Array($0.value) } == alone.records.map { Array($0.value) })
            #expect(result.nextOffset == alone.nextOffset)
            #expect(!result.records.isEmpty)
        }
    }

    @Test func theReadsStopAtTheTotal() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (log, stream) = try filledStream(directory)
        defer { log.close() }
        let requests: [(partition: Int, offset: Int64)] = [(0, 0), (1, 0), (2, 0), (3, 0)]
        let results = try await stream.read(requests, limits: LogReadLimits(maxRecords: 10), totalRecords: 25)
        #expect(results.map(\.records.count) == [10, 10, 5])
        #expect(results[2].nextOffset == 5)
        #expect(try await stream.read(requests, limits: LogReadLimits(), totalRecords: 0).isEmpty)
    }

    @Test func aPartitionAtItsEndGivesNoRecordsAndTheSameOffset() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (log, stream) = try filledStream(directory)
        defer { log.close() }
        let end = stream.offsets(partition: 1).highWatermark
        let results = try await stream.read([(1, end), (0, 0)], limits: LogReadLimits(maxRecords: 5), totalRecords: 100)
        #expect(results.count == 2)
        #expect(results[0].records.isEmpty && results[0].nextOffset == end)
        #expect(results[1].records.count == 5)
    }
}
