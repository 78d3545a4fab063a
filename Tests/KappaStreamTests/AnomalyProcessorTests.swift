import Foundation
import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Synchronization
import Testing

/// Collects what the processor announces after its commits.
final class RecordingAlertSink: AnomalyAlertSink {
    let announced = Mutex<[AnomalyEpisode]>([])
    func announce(_ episodes: [AnomalyEpisode]) { announced.withLock { $0 += episodes } }
}

@Suite struct AnomalyProcessorTests {
    /// A spike on one device, a long stuck sensor on another, a clean third; with redelivered duplicates.
    private static func plantedReadings() -> [Reading] {
        func series(_ device: String, seed: UInt64, _ planted: [Planted]) -> SyntheticSeries {
            var s = SyntheticSeries()
            s.device = device
            s.seed = seed
            s.count = 900
            s.intervalSeconds = 10
            s.planted = planted
            return s
        }
        let all = merged([
            series("spiky", seed: 1, [Planted(kind: .spike, at: 500, length: 1, magnitude: 20)]).readings(),
            series("stuck", seed: 2, [Planted(kind: .stuck, at: 300, length: 400, magnitude: 0)]).readings(),
            series("clean", seed: 3, []).readings(),
        ])
        return all + all.prefix(200).filter { $0.device == "spiky" }
    }

    @Test(.timeLimit(.minutes(1))) func plantedAnomaliesAreRowsAnnouncedOnceEach() async throws {
        let log = try TestLog()
        defer { log.remove() }
        try log.append(Self.plantedReadings())
        let database = try await migratedDatabase("anomaly_rows")
        let listener = try await database.connect()
        try await listener.listen("kappa_anomalies")
        let sink = RecordingAlertSink()
        var configuration = ProcessorHarness.configuration()
        configuration.maxBatchRecords = 300
        let services = try ProcessorSet.make(
            roles: [.anomalies], log: log.log, database: PostgresConfiguration(conninfo: database.conninfo),
            configuration: configuration, alertSink: sink, logger: quietLogger
        )
        try await ProcessorHarness.run(services, log: log, database: database, roles: [.anomalies])

        let connection = try await database.connect()
        let rows = try await rowsAsText(connection, "SELECT device, metric, detector, end_time IS NULL FROM kappa.anomalies ORDER BY device, detector")
        #expect(rows.contains(["spiky", "temperature", "spike", "f"]), "the spike is a closed episode: \(rows)")
        let stuck = rows.filter { $0[0] == "stuck" }
        // (The jump back when the sensor recovers may also show as a spike or change point.)
        #expect(stuck.filter { $0[2] == "flatline" }.count == 1, "400 stuck readings are one flatline row: \(rows)")
        #expect(stuck.count <= 3)
        #expect(!rows.contains { $0[0] == "clean" }, "the clean device raises nothing: \(rows)")
        let columns = try await connection.query(
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = 'kappa' AND table_name = 'anomalies'"
        )
        #expect(try columns.first?[0].string == "device,metric,start_time,end_time,detector,peak_score,value,expected_low,expected_high,severity,detected_at")
        let open = try await connection.query("SELECT count(*) FROM kappa.open_anomalies").first?[0].int
        let stillOpen = rows.filter { $0[3] == "t" }.count
        #expect(open == stillOpen)

        var notifications: [PostgresNotification] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while notifications.count < rows.count, ContinuousClock.now < deadline {
            notifications += try await listener.notifications()
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(notifications.count == rows.count, "one NOTIFY per episode")
        #expect(notifications.allSatisfy { $0.channel == "kappa_anomalies" })
        #expect(notifications.contains { $0.payload.contains(#""device":"stuck","metric":"temperature","detector":"flatline""#) })
        let announced = sink.announced.withLock { $0 }
        #expect(announced.count == rows.count, "each episode handed to the alert sink once")
        #expect(Set(announced.map(\.device)) == Set(rows.map { $0[0] }))
        await listener.close()
        await connection.close()
    }

    @Test(.timeLimit(.minutes(2))) func resumingFromCheckpointsWritesTheSameTable() async throws {
        let log = try TestLog()
        defer { log.remove() }
        let readings = AnomalyStreamScript(devices: 16, seed: 5, hours: 4).readings()
        let reference = try await migratedDatabase("anomaly_whole")
        let resumed = try await migratedDatabase("anomaly_resumed")
        // The reference reads the whole log in one run; the other run is stopped and started at every third.
        try log.append(Array(readings.prefix(readings.count / 3)))
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: resumed, roles: [.anomalies])
        try log.append(Array(readings[readings.count / 3 ..< 2 * readings.count / 3]))
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: resumed, roles: [.anomalies])
        try log.append(Array(readings[(2 * readings.count / 3)...]))
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: resumed, roles: [.anomalies])
        try await ProcessorHarness.runUntilCaughtUp(log: log, database: reference, roles: [.anomalies])

        let referenceConnection = try await reference.connect()
        let resumedConnection = try await resumed.connect()
        let expected = try await AnomalyTableContents.read(referenceConnection)
        let actual = try await AnomalyTableContents.read(resumedConnection)
        #expect(expected.episodes.count >= 8)
        #expect(actual == expected)
        await referenceConnection.close()
        await resumedConnection.close()
    }
}
