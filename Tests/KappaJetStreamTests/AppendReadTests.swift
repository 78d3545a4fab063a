import KappaCore
import KappaJetStream
import KappaLog
import KappaTestSupport
import Testing

/// The append/read/offset contract of the disk log's tests, against a 3-node JetStream cluster. The log
/// blocks on the network, so its calls run through `Blocking.run`; the expectations stay in the test's task.
@Suite("JetStream log: appends, reads and offsets", .timeLimit(.minutes(2)))
struct JetStreamAppendReadTests {
    @Test func recordsRoundTripWithDenseOffsetsAndSurviveReconnecting() async throws {
        let cluster = try await SharedCluster.cluster
        let name = uniqueStreamName("roundtrip")
        let log = try await Blocking.run { try connect(cluster) }
        let stream = try await Blocking.run { try log.createStream(named: name, partitionCount: 1) }
        for start in stride(from: 0, to: 300, by: 50) {
            let positions = try await Blocking.run {
                try stream.append((start..<(start + 50)).map { LogAppendRecord(key: "device-1", eventTime: testTime($0), value: testValue($0)) })
            }
            #expect(positions == (start..<(start + 50)).map { LogPosition(partition: 0, offset: Int64($0)) })
        }
        #expect(try await Blocking.run { try stream.append(key: "device-1", eventTime: testTime(300), value: testValue(300)) }.offset == 300)
        func check(_ stream: JetStreamStream) async throws {
            let records = try await Blocking.run { try readAll(stream, partition: 0) }
            #expect(records.map(\.offset) == (0...300).map(Int64.init))
            #expect(records.map { Array($0.value) } == (0...300).map(testValue))
            #expect(records.map(\.eventTime) == (0...300).map(testTime))
            #expect(records.allSatisfy { Array($0.key) == Array("device-1".utf8) })
            #expect(try await Blocking.run { stream.offsets(partition: 0) } == LogOffsetRange(start: 0, highWatermark: 301))
        }
        try await check(stream)
        log.close()
        let reconnected = try await Blocking.run { try connect(cluster) }
        defer { reconnected.close() }
        let reopened = try await Blocking.run { try reconnected.openStream(named: name) }
        #expect(reopened.partitionCount == 1)
        try await check(reopened)
        #expect(try await Blocking.run { try reopened.append(key: "device-1", eventTime: testTime(301), value: testValue(301)) }.offset == 301)
    }

    @Test func readsStartAtAnyOffsetAndRespectLimits() async throws {
        let cluster = try await SharedCluster.cluster
        let log = try await Blocking.run { try connect(cluster) }
        defer { log.close() }
        let stream = try await Blocking.run {
            let stream = try log.createStream(named: uniqueStreamName("limits"), partitionCount: 1)
            _ = try stream.append((0..<120).map { LogAppendRecord(key: "k", eventTime: testTime($0), value: testValue($0)) })
            return stream
        }
        for offset in [0, 1, 29, 60, 118, 119] {
            let result = try await Blocking.run { try stream.read(partition: 0, from: Int64(offset), limits: LogReadLimits(maxRecords: 7)) }
            let expected = min(7, 120 - offset)
            #expect(result.records.map(\.offset) == (0..<expected).map { Int64(offset + $0) })
            #expect(result.records.map { Array($0.value) } == (0..<expected).map { testValue(offset + $0) })
            #expect(result.nextOffset == Int64(offset + expected))
        }
        let small = try await stream.read(partition: 0, from: 0, limits: LogReadLimits(maxRecords: 1000, maxBytes: 10))
        #expect(small.records.count == 1, "at least one record, however small maxBytes is")
        #expect(try await stream.read(partition: 0, from: 120, limits: LogReadLimits()).records.isEmpty)
        await #expect(throws: LogError.self) { try await stream.read(partition: 0, from: 121, limits: LogReadLimits()) }
    }

    @Test func keysRouteToTheSamePartitionsAsOnDiskAndEachPartitionCountsFromZero() async throws {
        let cluster = try await SharedCluster.cluster
        let directory = try TemporaryDirectory.make(prefix: "kappa-jetstream-routing")
        let records = (0..<200).map { LogAppendRecord(key: "device-\($0 % 17)", eventTime: testTime($0), value: testValue($0)) }
        let (positions, diskPartitions, readBack) = try await Blocking.run {
            let log = try connect(cluster)
            defer { log.close() }
            let stream = try log.createStream(named: uniqueStreamName("routing"), partitionCount: 4)
            let disk = try DiskLog(directory: directory, logger: testLogger)
            defer { disk.close() }
            let diskStream = try disk.createStream(named: "routing", partitionCount: 4)
            let positions = try stream.append(records)
            let readBack = try (0..<4).map { partition in try readAll(stream, partition: partition).map { Array($0.value) } }
            return (positions, records.map { diskStream.partition(forKey: $0.key) }, readBack)
        }
        #expect(positions.map(\.partition) == diskPartitions)
        for partition in 0..<4 {
            let offsets = positions.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == (0..<Int64(offsets.count)).map { $0 }, "dense from zero in partition \(partition)")
            #expect(readBack[partition] == records.indices.filter { positions[$0].partition == partition }.map { records[$0].value })
        }
    }

    @Test func seekByTimeFindsTheFirstRecordAfterWhichTheRunningMaximumReachesIt() async throws {
        let cluster = try await SharedCluster.cluster
        let times = (0..<100).map { $0 % 10 == 9 ? $0 * 10 - 250 : $0 * 10 }
        let targets = [-5000, 0, 1, 95, 500, 985, 990, 991, 5000]
        let found = try await Blocking.run {
            let log = try connect(cluster)
            defer { log.close() }
            let stream = try log.createStream(named: uniqueStreamName("seek"), partitionCount: 1)
            _ = try stream.append((0..<100).map { LogAppendRecord(key: "k", eventTime: testTime(times[$0]), value: testValue($0)) })
            return try targets.map { try stream.offset(partition: 0, atOrAfter: testTime($0)) }
        }
        for (target, offset) in zip(targets, found) {
            var runningMax = Int.min
            var expected = 100
            for (index, time) in times.enumerated() {
                runningMax = max(runningMax, time)
                if runningMax >= target {
                    expected = index
                    break
                }
            }
            #expect(offset == Int64(expected), "target \(target)")
        }
    }

    @Test func aStreamThatDiffersFromTheSettingsIsReportedNotChanged() async throws {
        let cluster = try await SharedCluster.cluster
        let name = uniqueStreamName("mismatch")
        let log = try await Blocking.run { try connect(cluster) }
        defer { log.close() }
        let singleReplica = try await Blocking.run { try connect(cluster, replicas: 1) }
        defer { singleReplica.close() }
        _ = try await Blocking.run { try log.createStream(named: name, partitionCount: 2) }
        func failure(_ body: @escaping @Sendable () throws -> Void) async throws -> LogError? {
            try await Blocking.run { () -> LogError? in
                do { try body() } catch let error as LogError { return error } catch {}
                return nil
            }
        }
        let partitions = try await failure { _ = try log.createStream(named: name, partitionCount: 3) }
        #expect(partitions?.code == .streamMismatch)
        #expect(partitions?.description.contains("2 partitions") == true, "\(String(describing: partitions))")
        let replicas = try await failure { _ = try singleReplica.createStream(named: name, partitionCount: 2) }
        #expect(replicas?.code == .streamMismatch)
        #expect(replicas?.description.contains("replicas 3, expected 1") == true, "\(String(describing: replicas))")
        let missing = try await failure { _ = try log.openStream(named: uniqueStreamName("absent")) }
        #expect(missing?.code == .streamNotFound)
        let badName = try await failure { _ = try log.createStream(named: "no.dots", partitionCount: 1) }
        #expect(badName?.code == .invalidArgument)
        #expect(try await Blocking.run { try log.streamNames() }.contains(name))
    }

    @Test func consumerOffsetsAreKeptPerGroupOnTheCluster() async throws {
        let cluster = try await SharedCluster.cluster
        let name = uniqueStreamName("consumers")
        let (before, rollups, anomalies) = try await Blocking.run {
            let log = try connect(cluster)
            defer { log.close() }
            let stream = try log.createStream(named: name, partitionCount: 3)
            let before = try stream.committedOffsets(group: "rollups v1")
            try stream.commit(group: "rollups v1", offsets: [0: 5, 2: 7])
            try stream.commit(group: "rollups v1", offsets: [0: 6, 1: 1, 2: 7])
            try stream.commit(group: "anomalies.v1", offsets: [1: 9])
            let reopened = try connect(cluster)
            defer { reopened.close() }
            let again = try reopened.openStream(named: name)
            return (before, try again.committedOffsets(group: "rollups v1"), try again.committedOffsets(group: "anomalies.v1"))
        }
        #expect(before == [:])
        #expect(rollups == [0: 6, 1: 1, 2: 7])
        #expect(anomalies == [1: 9])
    }

    @Test func waitersWakeOnAppends() async throws {
        let cluster = try await SharedCluster.cluster
        let log = try await Blocking.run { try connect(cluster) }
        defer { log.close() }
        let stream = try await Blocking.run { try log.createStream(named: uniqueStreamName("wait"), partitionCount: 1) }
        async let woken: Void = stream.waitForRecords(partition: 0, from: 2)
        try await Blocking.run {
            for number in 0..<3 { _ = try stream.append(key: "k", eventTime: testTime(number), value: testValue(number)) }
        }
        try await woken
        #expect(try await Blocking.run { stream.offsets(partition: 0) }.highWatermark == 3)
    }
}

@Suite("JetStream log: two writers on one partition", .timeLimit(.minutes(2)))
struct JetStreamTwoWriterTests {
    /// A second gateway's view of the partition's end is stale by three records when it appends ten: by sequence
    /// alone its fourth record would expect exactly the new end and be stored ahead of the three refused ones,
    /// then stored again when the append retries after the new end. Every record must be stored once, in order.
    @Test func aStaleWriterStoresEachRecordOnceAndInOrder() async throws {
        let cluster = try await SharedCluster.cluster
        let name = uniqueStreamName("stale-writer")
        let first = try await Blocking.run { try connect(cluster) }
        defer { first.close() }
        let second = try await Blocking.run { try connect(cluster) }
        defer { second.close() }
        let firstStream = try await Blocking.run { try first.createStream(named: name, partitionCount: 1) }
        _ = try await Blocking.run { try firstStream.append(key: "a", eventTime: testTime(0), value: testValue(0)) }
        let secondStream = try await Blocking.run { try second.openStream(named: name) }
        _ = try await Blocking.run { try firstStream.append((1...3).map { LogAppendRecord(key: "a", eventTime: testTime($0), value: testValue($0)) }) }

        let positions = try await Blocking.run {
            try secondStream.append((100..<110).map { LogAppendRecord(key: "b", eventTime: testTime($0), value: testValue($0)) })
        }
        #expect(positions.map(\.offset) == (4..<14).map(Int64.init))
        let records = try await Blocking.run { try readAll(secondStream, partition: 0) }
        #expect(records.map { Array($0.value) } == ((0...3).map(testValue) + (100..<110).map(testValue)),
                "stored: \(records.count) records")
    }
}
