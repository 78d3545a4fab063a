import KappaCore
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import ServiceLifecycle
import Testing

/// A processor defined only in this test target runs through the real runner and store against the harness's
/// PostgreSQL: its migration applies beside Kappa's, its output is committed with its offsets.
@Suite struct ExtremesProcessorTests {
    @Test(.timeLimit(.minutes(2))) func aProcessorDefinedOutsideTheSourcesRunsThroughTheRealRunner() async throws {
        let log = try TestLog()
        defer { log.remove() }
        let readings = ReadingScript().readings()
        try log.append(readings)
        let database = try await PostgresServer.shared.makeDatabase(prefix: "extremes")
        let setup = try await database.connect()
        let descriptor = ProcessorDescriptor.extremes
        let applied = try await SchemaMigrator(
            schema: PostgresIdentifier(KappaSchema.defaultSchema), migrations: KappaSchema.migrations + descriptor.migrations
        ).migrate(setup)
        #expect(applied.map(\.version).contains(1_000_001))

        let status = ProcessorStatus()
        let services = try ProcessorSet.make(
            [descriptor], log: log.log, database: PostgresConfiguration(conninfo: database.conninfo),
            configuration: ProcessorHarness.configuration(), status: status, logger: quietLogger
        )
        let group = ServiceGroup(services: services, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let expected = log.highWatermarks().reduce(0, +)
            var committed: Int64 = -1
            while committed != expected {
                try await Task.sleep(for: .milliseconds(20))
                committed = try await setup.query(
                    "SELECT coalesce(sum(next_offset), 0)::bigint FROM kappa.processor_offsets WHERE processor = $1", [.text(descriptor.name)]
                ).first?[0].int64 ?? 0
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }

        var expected: [String: ExtremesProcessor.Extremes] = [:]
        for reading in readings {
            let current = expected[reading.device]
            expected[reading.device] = ExtremesProcessor.Extremes(
                low: min(current?.low ?? reading.value, reading.value), high: max(current?.high ?? reading.value, reading.value)
            )
        }
        var stored: [String: ExtremesProcessor.Extremes] = [:]
        for row in try await setup.query("SELECT device, low, high FROM kappa.device_extremes_v1") {
            stored[try row[0].string] = ExtremesProcessor.Extremes(low: try row[1].double, high: try row[2].double)
        }
        #expect(stored == expected)
        // More than one checkpoint merged into the rows (the batch limit is far below the readings appended).
        #expect((status.snapshot(descriptor.name)?.checkpoints ?? 0) > 1)
        await setup.close()
    }
}
