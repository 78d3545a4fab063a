import KappaCore
import KappaPostgres
import KappaStorage
import KappaStream
import KappaTestSupport
import Testing

/// A series whose state left memory while it was idle, and that came back, ends with the same rows as if it had
/// stayed: the same log through the processors with eviction at every checkpoint and with none.
@Suite struct SeriesEvictionTests {
    /// Series go silent while others fill the log past the duplicate windows, then return with in-order
    /// readings, a reading into their open (already stored) minute, a reading late for its minute by the
    /// watermark committed before they left, and redelivered duplicates.
    static func churn() -> [Reading] {
        let hour = (Timestamp.now().microsecondsSinceEpoch / 3_600_000_000 - 3) * 3_600_000_000
        func reading(_ device: String, _ metric: String, _ seconds: Int64, _ value: Double) -> Reading {
            let tags = device.hasSuffix("0") ? [Tag(key: "unit", value: "°C")] : []
            return Reading(device: device, metric: metric, time: Timestamp(microsecondsSinceEpoch: hour + seconds * 1_000_000 + 1), value: value, tags: tags)
        }
        let churning = (0..<4).flatMap { device in ["m0", "m1"].map { ("churn-\(device)", $0) } }
        var readings: [Reading] = []
        func filler(from start: Int64) {
            for step in 0..<40 {
                for device in 0..<3 { readings.append(reading("steady-\(device)", "t", start + Int64(step) * 5, Double(step * device))) }
            }
        }
        for step in 0..<30 {
            for (number, (device, metric)) in churning.enumerated() {
                readings.append(reading(device, metric, Int64(step) * 20, Double(step * 7 + number) * 1.5))
            }
        }
        filler(from: 0)
        for (number, (device, metric)) in churning.enumerated() {
            readings.append(reading(device, metric, 5 * 20 + 3, -Double(number)))          // late for its minute
            readings.append(reading(device, metric, 29 * 20 + 10, 1000 + Double(number)))  // into the stored open minute
        }
        for step in 30..<50 {
            for (number, (device, metric)) in churning.enumerated() {
                let value = Double(step * 11 + number) / 4
                readings.append(reading(device, metric, Int64(step) * 20, value))
                if step % 5 == 0 { readings.append(reading(device, metric, Int64(step) * 20, value)) }
            }
        }
        filler(from: 200)
        for (number, (device, metric)) in churning.enumerated() where number % 2 == 0 {
            readings.append(reading(device, metric, 40 * 20 + 7, 5))                        // late again, second return
            readings.append(reading(device, metric, 3 * 3600 + 5, 42))                     // hours later
        }
        return readings
    }

    @Test(.timeLimit(.minutes(3))) func evictedSeriesContinueAsIfTheyHadStayed() async throws {
        let log = try TestLog(partitions: 1)
        defer { log.remove() }
        try log.append(Self.churn())
        var contents: [TableContents] = []
        var anomalies: [[[String]]] = []
        var reused: [Int] = []
        for idleAfter in [nil, Duration.zero] {
            let database = try await migratedDatabase("eviction")
            var configuration = ProcessorHarness.configuration()
            configuration.maxBatchRecords = 7
            configuration.duplicateWindowRecords = 8
            configuration.seriesMemory = SeriesMemory(idleAfter: idleAfter)
            try await ProcessorHarness.runUntilCaughtUp(
                log: log, database: database, roles: [.rollups, .devices, .archive, .anomalies], configuration: configuration
            )
            reused.append(configuration.seriesMemory.registry.reusedCount)
            let connection = try await database.connect()
            contents.append(try await TableContents.read(connection))
            anomalies.append(try await rowsAsText(connection, "SELECT * FROM kappa.anomalies ORDER BY device, metric, detector, start_time"))
            await connection.close()
        }
        #expect(reused[0] == 0, "without an idle limit nothing leaves memory")
        #expect(reused[1] > 0, "with it, series left memory and their numbers were taken again")
        #expect(contents[0].matches(contents[1]))
        #expect(anomalies[0] == anomalies[1])
        let late = contents[0].rollups.filter { $0[2] == "60" }.map { Int($0[11])! }.reduce(0, +)
        #expect(late >= 8, "the returning series' late readings are counted")
    }
}
