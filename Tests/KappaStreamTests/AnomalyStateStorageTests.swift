import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// The anomaly processor's state in PostgreSQL: each checkpoint writes the changed partitions' headers and only
/// the changed devices' chunks, and a processor loading what is stored (a crash right after any checkpoint)
/// has exactly the state of the one that kept running.
@Suite struct AnomalyStateStorageTests {
    static let partitions = 4

    static func makeProcessor() -> AnomalyProcessor {
        AnomalyProcessor(partitionCount: partitions, duplicateWindowRecords: 256, settings: AnomalyConfiguration(), alertSink: nil)
    }

    /// One checkpoint as the runtime makes it: the writer inside a transaction, then `committed()`. Returns the
    /// number of device chunks the COPY staged.
    static func checkpoint(_ processor: AnomalyProcessor, _ writer: AnomalyWriter, _ connection: PostgresConnection) async throws -> Int {
        let staged = try await connection.withTransaction { connection in
            try await writer.write(processor, connection: connection)
            let staging = try await connection.query("SELECT to_regclass('pg_temp.anomaly_device_state_changes') IS NOT NULL")
            guard try staging.first?[0].bool == true else { return 0 }
            return try await connection.query("SELECT count(*) FROM pg_temp.anomaly_device_state_changes").first?[0].int ?? 0
        }
        processor.committed()
        return staged
    }

    static func loaded(_ writer: AnomalyWriter, _ log: TestLog, _ connection: PostgresConnection) async throws -> AnomalyProcessor {
        let processor = makeProcessor()
        try await writer.load(into: processor, stream: log.readings, connection: connection)
        return processor
    }

    @Test(.timeLimit(.minutes(2))) func aProcessorLoadedAfterAnyCheckpointHasTheLiveState() async throws {
        let log = try TestLog(partitions: Self.partitions)
        defer { log.remove() }
        try log.append(AnomalyStreamScript(devices: 16, seed: 23, hours: 2).readings())
        let database = try await migratedDatabase("anomaly_by_device")
        let connection = try await database.connect()
        let writer = AnomalyWriter(schema: PostgresIdentifier("kappa"), version: "v1")
        let live = Self.makeProcessor()
        var offsets = [Int64](repeating: 0, count: Self.partitions)
        var random = SplitMix64(seed: 11)
        var checkpoints = 0, partial = 0, deviceTotal = 0
        while true {
            var read = 0
            for partition in 0..<Self.partitions {
                let result = try await log.readings.read(partition: partition, from: offsets[partition], limits: LogReadLimits(maxRecords: 1 + Int(random.next() % 60)))
                for record in result.records { live.apply(record, partition: partition) }
                offsets[partition] = result.nextOffset
                read += result.records.count
            }
            guard read > 0 else { break }
            let changed = live.dirtyPartitions.reduce(0) { $0 + live.changedDeviceChunks(partition: $1).count }
            deviceTotal = (0..<Self.partitions).reduce(0) { $0 + live.changedDeviceChunks(partition: $1).deviceCount }
            let staged = try await Self.checkpoint(live, writer, connection)
            #expect(staged == changed, "the checkpoint staged exactly the changed devices")
            checkpoints += 1
            if changed < deviceTotal { partial += 1 }
            let restarted = try await Self.loaded(writer, log, connection)
            for partition in 0..<Self.partitions {
                try #require(restarted.snapshot(partition: partition) == live.snapshot(partition: partition), "checkpoint \(checkpoints), partition \(partition)")
            }
        }
        #expect(checkpoints > 20, "\(checkpoints) checkpoints")
        #expect(partial > checkpoints / 2, "most checkpoints wrote only some devices (\(partial) of \(checkpoints))")
        let stored = try await connection.query("SELECT count(*) FROM kappa.anomaly_device_state_v1").first?[0].int
        #expect(stored == deviceTotal, "one row per device")
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2))) func aWholeSnapshotOfAnOlderBuildLoadsAndIsThenSavedByDevice() async throws {
        let log = try TestLog(partitions: Self.partitions)
        defer { log.remove() }
        try log.append(AnomalyStreamScript(devices: 16, seed: 29, hours: 2).readings())
        let database = try await migratedDatabase("anomaly_upgrade")
        let connection = try await database.connect()
        let writer = AnomalyWriter(schema: PostgresIdentifier("kappa"), version: "v1")
        let original = Self.makeProcessor()
        for partition in 0..<Self.partitions {
            var offset: Int64 = 0
            while true {
                let result = try await log.readings.read(partition: partition, from: offset, limits: LogReadLimits(maxRecords: 1_000))
                guard !result.records.isEmpty else { break }
                for record in result.records { original.apply(record, partition: partition) }
                offset = result.nextOffset
            }
        }
        // As a build before incremental state left it: a whole snapshot per partition, and (say, from a later
        // build's run on this database once) a chunk past the devices the snapshot holds.
        let whole = (0..<Self.partitions).map { original.snapshot(partition: $0) }
        for (partition, bytes) in whole.enumerated() {
            _ = try await connection.execute("INSERT INTO kappa.anomaly_state_v1 (partition, snapshot) VALUES ($1, $2)", [.int64(Int64(partition)), .bytea(bytes)])
        }
        _ = try await connection.execute("INSERT INTO kappa.anomaly_device_state_v1 (partition, device_slot, state) VALUES (0, 9999, '\\x00')")

        let upgraded = try await Self.loaded(writer, log, connection)
        for partition in 0..<Self.partitions {
            #expect(upgraded.snapshot(partition: partition) == whole[partition])
        }
        #expect(upgraded.dirtyPartitions == Set(0..<Self.partitions), "the next checkpoint saves it by device")
        let devices = (0..<Self.partitions).map { upgraded.changedDeviceChunks(partition: $0).deviceCount }
        #expect(try await Self.checkpoint(upgraded, writer, connection) == devices.reduce(0, +))

        let headers = try await connection.query("SELECT snapshot FROM kappa.anomaly_state_v1 ORDER BY partition")
        #expect(try headers.map { AnomalyEngine.isStateHeader(try $0[0].bytes) } == Array(repeating: true, count: Self.partitions))
        let perPartition = try await rowsAsText(connection, "SELECT partition, count(*), max(device_slot) FROM kappa.anomaly_device_state_v1 GROUP BY partition ORDER BY partition")
        #expect(perPartition == devices.enumerated().map { ["\($0.offset)", "\($0.element)", "\($0.element - 1)"] }, "every device saved, the stray chunk gone")
        let reloaded = try await Self.loaded(writer, log, connection)
        for partition in 0..<Self.partitions {
            #expect(reloaded.snapshot(partition: partition) == whole[partition])
        }
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1))) func newVersionsAndMigratedOnesHaveTheDeviceTableUncompressed() async throws {
        let database = try await migratedDatabase("anomaly_device_table")
        let connection = try await database.connect()
        try await OutputVersions(schema: PostgresIdentifier("kappa")).create(connection, processor: "anomalies", version: "v2", configuration: "{}")
        for table in ["anomaly_device_state_v1", "anomaly_device_state_v2"] {
            let storage = try await connection.query(
                "SELECT attstorage::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'state'", [.text("kappa." + table)]
            )
            #expect(try storage.first?[0].string == "e", "\(table) stores its chunks uncompressed")
            let key = try await connection.query(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass($1) AND indisprimary", [.text("kappa." + table)]
            )
            #expect(try key.first?[0].string.hasSuffix("(partition, device_slot)") == true)
        }
        await connection.close()
    }
}
