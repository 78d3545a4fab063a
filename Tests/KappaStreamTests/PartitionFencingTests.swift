import Foundation
import KappaCore
import KappaJetStream
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Logging
import ServiceLifecycle
import Testing

/// Two gateways' rollup runners on one JetStream log that both believe they own every partition (their claims
/// are forced, as if the advisory locks failed): the conditional offsets update must let only one of them
/// commit each range of records, so the rollups count every reading once.
@Suite("Partition fencing", .serialized, .timeLimit(.minutes(3)))
struct PartitionFencingTests {
    static let devices = 8
    static let perDevice = 1_500

    @Test("two runners forced to own the same partitions: one commits, the other is fenced and starts again, rollups exact")
    func twoOwnersOfOnePartition() async throws {
        let cluster = try await NATSCluster.start(nodes: 3)
        defer { cluster.stop() }
        let configuration = JetStreamConfiguration(servers: cluster.urls, replicas: 3)
        let name = "readings-fence-\(UInt32.random(in: 0...UInt32.max))"
        // Two gateways: two connections, each with its own view of the stream, both appending.
        let logs = try await Blocking.run { [try JetStreamLog.connect(configuration: configuration, logger: quietLogger),
                                             try JetStreamLog.connect(configuration: configuration, logger: quietLogger)] }
        defer { for log in logs { log.close() } }
        let streams = try await Blocking.run { [try logs[0].createStream(named: name, partitionCount: 4), try logs[1].openStream(named: name)] }
        let database = try await migratedDatabase("fence")

        let start = (Timestamp.now().microsecondsSinceEpoch / 60_000_000 - 600) * 60_000_000
        let batches = Self.batches(start: start)
        // Half before the runners start, so both read the same records from the same offsets.
        for (index, batch) in batches.prefix(batches.count / 2).enumerated() {
            _ = try await Blocking.run { try streams[index % 2].append(batch) }
        }

        let status = ProcessorStatus()
        var processorConfiguration = ProcessorHarness.configuration()
        processorConfiguration.ownership = .shared(rebalanceInterval: .milliseconds(100))
        let runners = (0..<2).map { gateway in
            ProcessorRunner(
                name: "rollups-\(gateway)", stream: streams[gateway],
                store: ForcedOwnershipStore(base: PostgresCheckpointStore(
                    database: PostgresConfiguration(conninfo: database.conninfo),
                    offsets: ProcessorOffsets(schema: PostgresIdentifier("kappa"), processor: "rollups", version: "v1", stream: name),
                    writer: RollupWriter(schema: PostgresIdentifier("kappa"), version: "v1"), logger: quietLogger
                )),
                configuration: processorConfiguration, status: status, logger: quietLogger,
                makeProcessor: { RollupProcessor(widths: [60, 3600], partitionCount: 4, duplicateWindowRecords: 4096) }
            )
        }
        let group = ServiceGroup(services: runners, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for (index, batch) in batches.dropFirst(batches.count / 2).enumerated() {
                _ = try await Blocking.run { try streams[index % 2].append(batch) }
            }
            let expected = Int64(Self.devices * Self.perDevice)
            let caughtUp = await eventually(timeout: .seconds(90)) {
                try await Self.scalar(database, "SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets WHERE stream = '\(name)'") == expected
            }
            #expect(caughtUp, "the runners did not commit every record: \(status.snapshots)")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }

        // The two writers stored every reading exactly once, at dense offsets.
        var stored: [String: Int] = [:]
        for partition in 0..<4 {
            var offset: Int64 = 0
            while true {
                let result = try await streams[0].read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 2_000, maxBytes: 4 << 20))
                guard !result.records.isEmpty else { break }
                for record in result.records {
                    #expect(record.offset == offset)
                    offset += 1
                    let reading = try record.value.withUnsafeBytes { try ReadingRecord.decode($0) }
                    stored["\(reading.device)@\(reading.time.microsecondsSinceEpoch)", default: 0] += 1
                }
            }
        }
        #expect(stored.count == Self.devices * Self.perDevice)
        #expect(stored.values.allSatisfy { $0 == 1 }, "readings stored twice: \(stored.filter { $0.value > 1 }.count)")

        // Each range of records was committed by one runner only: every minute counts its readings once.
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        let rows = try await connection.query(
            "SELECT device, (extract(epoch FROM bucket) * 1000000)::bigint, count FROM kappa.rollups_v1 JOIN kappa.series ON series.id = series_id WHERE width_seconds = 60"
        )
        var counted: [String: Int64] = [:]
        for row in rows { counted["\(try row[0].string)@\(try row[1].int64)"] = try row[2].int64 }
        #expect(counted == Self.expectedMinuteCounts(start: start), "rollups differ from the readings")
        let fenced = status.snapshots.values.map(\.fenced).reduce(0, +)
        #expect(fenced > 0, "neither runner was fenced, so the test proved nothing: \(status.snapshots)")
        print("Partition fencing: \(fenced) checkpoints fenced, checkpoints committed \(status.snapshots.values.map(\.checkpoints).reduce(0, +))")
    }

    /// Readings of every device at one per second, in batches of 400 across devices.
    static func batches(start: Int64) -> [[LogAppendRecord]] {
        var records: [LogAppendRecord] = []
        for index in 0..<perDevice {
            for device in 0..<devices {
                let reading = Reading(device: "d\(device)", metric: "v", time: Timestamp(microsecondsSinceEpoch: start + Int64(index) * 1_000_000), value: Double(index))
                records.append(LogAppendRecord(key: reading.device, eventTime: reading.time, value: ReadingRecord.encode(reading)))
            }
        }
        return stride(from: 0, to: records.count, by: 400).map { Array(records[$0..<min($0 + 400, records.count)]) }
    }

    static func expectedMinuteCounts(start: Int64) -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for index in 0..<perDevice {
            let bucket = RollupProcessor.floor(start + Int64(index) * 1_000_000, 60_000_000)
            for device in 0..<devices { counts["d\(device)@\(bucket)", default: 0] += 1 }
        }
        return counts
    }

    static func scalar(_ database: PostgresTestDatabase, _ sql: String) async throws -> Int64 {
        let connection = try await database.connect()
        defer { Task { await connection.close() } }
        return try await connection.query(sql)[0][0].int64
    }
}

/// The real PostgreSQL store with one thing changed: the session claims every partition without asking
/// PostgreSQL, which is what a runner whose lock failed, or a partitioned network, would believe.
struct ForcedOwnershipStore<Base: CheckpointStore>: CheckpointStore {
    let base: Base

    func openSession() async throws -> ForcedOwnershipSession<Base.Session> {
        ForcedOwnershipSession(base: try await base.openSession())
    }
}

final class ForcedOwnershipSession<Base: CheckpointSession>: CheckpointSession {
    typealias Processor = Base.Processor
    let base: Base

    init(base: Base) {
        self.base = base
    }

    func loadOffsets() async throws -> [Int: Int64] { try await base.loadOffsets() }

    func load(into processor: Processor, stream: any LogStream, offsets: [Int64]) async throws {
        try await base.load(into: processor, stream: stream, offsets: offsets)
    }

    func prepare(_ processor: Processor, batch: [(partition: Int, records: [LogRecord])]) async throws {
        try await base.prepare(processor, batch: batch)
    }

    func commit(_ processor: Processor, rejected: [RejectedRecord], offsets: [Int64], previous: [Int64]) async throws {
        try await base.commit(processor, rejected: rejected, offsets: offsets, previous: previous)
    }

    func trial(_ processor: Processor) async throws -> (any CheckpointStoreError)? { try await base.trial(processor) }

    func reset() async throws { try await base.reset() }

    func partitionClaims(partitionCount: Int) async throws -> PartitionClaims {
        PartitionClaims(me: 1, members: [1], holders: Dictionary(uniqueKeysWithValues: (0..<partitionCount).map { ($0, 1) }))
    }

    func claim(partition: Int) async throws -> Bool { true }

    func release(partition: Int) async throws {}

    func close() async { await base.close() }
}
