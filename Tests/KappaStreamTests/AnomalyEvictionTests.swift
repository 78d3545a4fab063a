import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// The anomaly engine's idle devices leave memory and come back from their stored chunks: the episodes and the
/// stored state are those of an engine that kept every device, through restarts too.
@Suite struct AnomalyEvictionTests {
    /// Steady devices throughout; churning devices warm up, fall silent for 20 minutes (long enough for their
    /// gaps to open and their series' deadlines to come round again and again), then return, one of them with a
    /// spike and another with a level shift only their detectors' state from before the silence can tell.
    static func silentAndBack() -> [Reading] {
        let start = (Timestamp.now().microsecondsSinceEpoch / 3_600_000_000 - 3) * 3_600_000_000
        var random = SplitMix64(seed: 5)
        var readings: [Reading] = []
        for step in 0..<300 {
            let time = Timestamp(microsecondsSinceEpoch: start + Int64(step) * 10_000_000)
            for device in 0..<3 {
                readings.append(Reading(device: "steady-\(device)", metric: "t", time: time, value: 20 + Double(random.next() % 1000) / 1000))
            }
            guard step < 80 || step >= 200 else { continue }
            for device in 0..<4 {
                for (number, metric) in ["m0", "m1"].enumerated() {
                    var value = 50 + 10 * Double(device + number) + Double(random.next() % 1000) / 1000
                    if device == 1, number == 0, step == 230 { value += 40 }
                    if device == 2, number == 1, step >= 240 { value += 15 }
                    readings.append(Reading(device: "churn-\(device)", metric: metric, time: time, value: value))
                }
            }
        }
        return readings
    }

    struct Outcome: Equatable {
        var anomalies: [[String]]
        var headers: [[String]]
        var chunks: [[String]]
    }

    /// Runs the anomaly processor over `parts` of the log, each appended and consumed by a new runner (a restart
    /// from the checkpoint between them), and returns what it stored, with the evictions and reloads counted.
    static func run(_ parts: [[Reading]], idleAfter: Duration?) async throws -> (outcome: Outcome, evictions: Int64, reloads: Int64) {
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        let database = try await migratedDatabase("anomaly_eviction")
        var configuration = ProcessorHarness.configuration()
        configuration.maxBatchRecords = 7
        configuration.duplicateWindowRecords = 8
        configuration.seriesMemory = SeriesMemory(idleAfter: idleAfter)
        var evictions: Int64 = 0, reloads: Int64 = 0
        for part in parts {
            try log.append(part)
            let status = ProcessorStatus()
            try await ProcessorHarness.runUntilCaughtUp(log: log, database: database, roles: [.anomalies], configuration: configuration, status: status)
            evictions += status.snapshot("anomalies")?.stateEvictions ?? 0
            reloads += status.snapshot("anomalies")?.stateReloads ?? 0
        }
        let connection = try await database.connect()
        let outcome = Outcome(
            anomalies: try await rowsAsText(connection, "SELECT * FROM kappa.anomalies ORDER BY device, metric, detector, start_time"),
            headers: try await rowsAsText(connection, "SELECT partition, encode(snapshot, 'hex') FROM kappa.anomaly_state_v1 ORDER BY partition"),
            chunks: try await rowsAsText(connection, "SELECT partition, device_slot, encode(state, 'hex') FROM kappa.anomaly_device_state_v1 ORDER BY 1, 2")
        )
        await connection.close()
        return (outcome, evictions, reloads)
    }

    @Test(.timeLimit(.minutes(5))) func devicesThatLeftMemoryContinueAsIfTheyHadStayed() async throws {
        let readings = Self.silentAndBack()
        let kept = try await Self.run([readings], idleAfter: nil)
        #expect(kept.evictions == 0)
        #expect(kept.outcome.anomalies.contains { $0[0] == "churn-1" && $0[1] == "m0" && $0.contains("spike") }, "the spike after the return is found")
        #expect(kept.outcome.anomalies.contains { $0[0] == "churn-0" && $0.contains("gap") }, "the silence is found")

        let evicted = try await Self.run([readings], idleAfter: .zero)
        #expect(evicted.evictions > 0 && evicted.reloads > 0, "\(evicted.evictions) evictions, \(evicted.reloads) reloads")
        #expect(evicted.outcome.anomalies == kept.outcome.anomalies)
        #expect(evicted.outcome.headers == kept.outcome.headers)
        #expect(evicted.outcome.chunks == kept.outcome.chunks)

        // Restarted twice: once while the churning devices are silent (evicted), once after they returned.
        let restarted = try await Self.run([Array(readings[..<1_200]), Array(readings[1_200..<2_000]), Array(readings[2_000...])], idleAfter: .zero)
        #expect(restarted.evictions > 0 && restarted.reloads > 0, "\(restarted.evictions) evictions, \(restarted.reloads) reloads")
        #expect(restarted.outcome.anomalies == kept.outcome.anomalies)
        #expect(restarted.outcome.headers == kept.outcome.headers)
        #expect(restarted.outcome.chunks == kept.outcome.chunks)
    }

    static let partitions = 4

    static func makeProcessor(idleAfter: Duration?) -> AnomalyProcessor {
        AnomalyProcessor(
            partitionCount: partitions, duplicateWindowRecords: 256, settings: AnomalyConfiguration(), alertSink: nil,
            memory: SeriesMemory(idleAfter: idleAfter)
        )
    }

    /// Checkpoint by checkpoint over a fleet with anomalies, devices leaving at every commit they were not read
    /// since the last: the episodes of each checkpoint are the same as a processor's that keeps every device,
    /// and the state stored is that processor's state.
    @Test(.timeLimit(.minutes(3))) func everyCheckpointStoresTheStateOfAProcessorThatKeptEveryDevice() async throws {
        let log = try TestLog(partitions: Self.partitions)
        defer { log.remove() }
        try log.append(AnomalyStreamScript(devices: 16, seed: 31, hours: 2).readings())
        let database = try await migratedDatabase("anomaly_eviction_steps")
        let connection = try await database.connect()
        let writer = AnomalyWriter(schema: PostgresIdentifier("kappa"), version: "v1")
        let kept = Self.makeProcessor(idleAfter: nil)
        let evicting = Self.makeProcessor(idleAfter: .zero)
        var offsets = [Int64](repeating: 0, count: Self.partitions)
        var random = SplitMix64(seed: 17)
        var checkpoints = 0, mostEvicted = 0
        while true {
            var batch: [(partition: Int, records: [LogRecord])] = []
            for partition in 0..<Self.partitions {
                let result = try await log.readings.read(partition: partition, from: offsets[partition], limits: LogReadLimits(maxRecords: Int(random.next() % 40)))
                batch.append((partition, result.records))
                offsets[partition] = result.nextOffset
            }
            guard batch.contains(where: { !$0.records.isEmpty }) else { break }
            try await writer.prepare(evicting, batch: batch, connection: connection)
            for (partition, records) in batch {
                for record in records {
                    kept.apply(record, partition: partition)
                    evicting.apply(record, partition: partition)
                }
            }
            #expect(evicting.changedEpisodes.map(\.jsonText).sorted() == kept.changedEpisodes.map(\.jsonText).sorted(), "checkpoint \(checkpoints)")
            _ = try await AnomalyStateStorageTests.checkpoint(evicting, writer, connection)
            kept.committed()
            checkpoints += 1
            mostEvicted = max(mostEvicted, evicting.evictedDeviceCount)
            let loaded = try await AnomalyStateStorageTests.loaded(writer, log, connection)
            for partition in 0..<Self.partitions {
                try #require(loaded.snapshot(partition: partition) == kept.snapshot(partition: partition), "checkpoint \(checkpoints), partition \(partition)")
            }
        }
        #expect(checkpoints > 20)
        #expect(mostEvicted > 0)
        #expect(evicting.counters.stateReloads > 0, "\(evicting.counters.stateEvictions) evictions, \(evicting.counters.stateReloads) reloads")
        await connection.close()
    }
}
