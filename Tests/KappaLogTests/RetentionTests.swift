import KappaCore
import Testing
@testable import KappaLog

@Suite struct RetentionTests {
    private func makeLog(_ directory: TemporaryDirectory, retention: RetentionPolicy) throws -> DiskLog {
        var configuration = testConfiguration(segmentMaxBytes: 1024)
        configuration.retention = retention
        return try DiskLog(directory: directory.path, configuration: configuration, logger: quietLogger)
    }

    @Test func sizeRetentionStopsAtTheLowestCommittedOffset() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try makeLog(directory, retention: RetentionPolicy(maxAge: nil, maxBytesPerPartition: 2048))
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        for number in 0..<300 { _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)) }
        try stream.commit(group: "archive", offsets: [0: 120])
        try stream.registerProgress(consumer: "rollups", offsets: [0: 60])

        let deleted = try log.applyRetention()
        #expect(!deleted.isEmpty)
        let start = stream.offsets(partition: 0).start
        #expect(start > 0 && start <= 60, "deleted up to, never past, the lowest committed offset")
        #expect(try readAll(stream, partition: 0).map { Array($0.value) } == (Int(start)..<300).map(testValue))
        #expect { try stream.read(partition: 0, from: 0, limits: LogReadLimits()) } throws: { ($0 as? LogError)?.code == .offsetOutOfRange }

        try stream.registerProgress(consumer: "rollups", offsets: [0: 300])
        try log.applyRetention()
        let summary = stream.summary(partition: 0)
        #expect(summary.offsets.start > 60 && summary.offsets.start <= 120, "now bounded by the archive group")

        try stream.removeConsumer("archive")
        try stream.removeConsumer("rollups")
        try log.applyRetention()
        #expect(stream.summary(partition: 0).bytes <= 2048 + 1024)
    }

    @Test func forcedRetentionIgnoresConsumersButKeepsTheActiveSegment() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try makeLog(directory, retention: RetentionPolicy(maxAge: .zero, maxBytesPerPartition: nil))
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 1)
        for number in 0..<300 { _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)) }
        try stream.commit(group: "slow", offsets: [0: 0])
        #expect(try log.applyRetention().isEmpty, "the slow consumer needs everything")
        #expect(!(try log.applyRetention(force: true)).isEmpty)
        #expect(stream.summary(partition: 0).segmentCount == 1)
        #expect(stream.offsets(partition: 0).highWatermark == 300)
        #expect(try stream.append(key: "k", eventTime: testTime(0), value: [1]).offset == 300)
    }

    @Test func appendsAreRefusedBelowTheDiskFloor() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let free = try FileSystem.freeBytes(at: directory.path)
        let log = try DiskLog(directory: directory.path, configuration: testConfiguration(diskFloorBytes: free + (1 << 40)), logger: quietLogger)
        defer { log.close() }
        let stream = try log.createStream(named: "s", partitionCount: 2)
        #expect { try stream.append(key: "k", eventTime: testTime(0), value: [1]) } throws: { error in
            guard let error = error as? LogError else { return false }
            return error.code == .belowDiskFloor && error.floorBytes == free + (1 << 40) && error.freeBytes != nil
        }
        #expect { try stream.append([LogAppendRecord(key: "a", eventTime: testTime(0), value: [1])]) } throws: { ($0 as? LogError)?.code == .belowDiskFloor }
        #expect(stream.offsets(partition: 0).highWatermark == 0 && stream.offsets(partition: 1).highWatermark == 0)

        let roomy = try TemporaryDirectory()
        defer { roomy.remove() }
        let fine = try DiskLog(directory: roomy.path, configuration: testConfiguration(diskFloorBytes: 1), logger: quietLogger)
        defer { fine.close() }
        #expect(try fine.createStream(named: "s", partitionCount: 1).append(key: "k", eventTime: testTime(0), value: [1]).offset == 0)
    }
}
