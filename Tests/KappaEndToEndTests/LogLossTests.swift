import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaTestSupport
import Logging
import Testing

/// The log loses acknowledged records the processors already committed (a corrupt tail after a clean stop, or
/// a log that ends before what the database committed): the loss is reported loudly, offsets are never handed
/// out twice, and no reading published afterwards is skipped, across restarts.
@Suite("kappa run: records lost from the log", .serialized, .timeLimit(.minutes(5)))
struct LogLossTests {
    let logger = Logger(label: "kappa.test.e2e", factory: { _ in SwiftLogNoOpLogHandler() })
    static let devices = 4

    /// Publishes `count` JSON readings numbered from `first` (distinct event times) at QoS 1 and waits until the
    /// broker acknowledged them.
    func publish(_ gateway: GatewayUnderTest, first: Int, count: Int) async throws {
        let publisher = try MQTTClient.make(configuration: MQTTConfiguration(port: gateway.broker.port), logger: logger)
        try publisher.start()
        try await publisher.waitUntilConnected()
        defer { publisher.disconnect() }
        let origin = (Timestamp.now().nanosecondsSinceEpoch / 1_000_000 / 1000 - 3600) * 1000
        for index in first..<(first + count - 1) {
            try publisher.publish(topic: "\(gateway.topicPrefix)/devices/d\(index % Self.devices)/telemetry",
                                  payload: Array(#"{"ts":\#(origin + Int64(index) * 1000),"level":\#(index)}"#.utf8), qos: .atLeastOnce)
        }
        let last = first + count - 1
        try await publisher.publishAndWait(topic: "\(gateway.topicPrefix)/devices/d\(last % Self.devices)/telemetry",
                                           payload: Array(#"{"ts":\#(origin + Int64(last) * 1000),"level":\#(last)}"#.utf8))
    }

    func archived(_ gateway: GatewayUnderTest) async throws -> Int64 {
        try await gateway.scalar("SELECT count(*) FROM kappa.readings")
    }

    /// Waits until `expected` readings are archived and every processor committed the whole log.
    func expectProcessed(_ gateway: GatewayUnderTest, _ expected: Int64, _ process: KappaProcess) async throws {
        let done = await gateway.eventually(timeout: .seconds(60)) {
            let count = try await archived(gateway)
            let lag = try await gateway.metrics().total("kappa_processor_lag_records")
            return count == expected && lag == 0
        }
        let count = (try? await archived(gateway)).map(String.init) ?? "?"
        #expect(done, "archived \(count) of \(expected) readings:\n\(process.output.suffix(3000))")
    }

    func stop(_ process: KappaProcess) async {
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0, "\(process.output.suffix(2000))")
    }

    /// `kappa log …` in the gateway's data directory; returns the exit status and output.
    func logCommand(_ gateway: GatewayUnderTest, _ arguments: [String]) async throws -> (status: Int32?, output: String) {
        let process = try KappaProcess(arguments: ["log"] + arguments + ["--data-dir", gateway.dataDirectory],
                                       outputFile: "\(gateway.root)/log-\(arguments[0])-\(UUID().uuidString).out")
        let status = await process.waitForExit(timeout: .seconds(60))
        return (status, process.output)
    }

    /// The directory name of a partition, as the log lays it out (`p0003`).
    func partitionDirectory(_ partition: Int) -> String {
        "p" + String(repeating: "0", count: max(0, 4 - String(partition).count)) + String(partition)
    }

    /// The readings partition holding the most records, its high watermark and the path of its last segment.
    func fullestPartition(_ gateway: GatewayUnderTest) throws -> (partition: Int, highWatermark: Int64, segment: String) {
        let watermarks = try #require(gateway.logHighWatermarks()[KappaStreams.readings])
        let highest = try #require(watermarks.max())
        let partition = try #require(watermarks.firstIndex(of: highest))
        let directory = "\(gateway.dataDirectory)/\(KappaStreams.readings)/\(partitionDirectory(partition))"
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted().last)
        return (partition, highest, "\(directory)/\(segment)")
    }

    /// Offsets of the records of a readings partition (the log opened read-only, no gateway running).
    func storedOffsets(_ gateway: GatewayUnderTest, partition: Int) async throws -> [Int64] {
        var configuration = DiskLogConfiguration()
        configuration.readOnly = true
        let log = try DiskLog(directory: gateway.dataDirectory, configuration: configuration, logger: logger)
        defer { log.close() }
        let stream = try log.openStream(named: KappaStreams.readings)
        var offsets: [Int64] = []
        var next = stream.offsets(partition: partition).start
        while true {
            let read = try await stream.read(partition: partition, from: next, limits: LogReadLimits(maxRecords: 10_000))
            if read.records.isEmpty { return offsets }
            offsets += read.records.map(\.offset)
            next = read.nextOffset
        }
    }

    /// 400 readings processed and committed, then the log made as if restored from an older copy: the last
    /// batch of the fullest partition gone, and with it what the log knew about the offsets it handed out and
    /// the processors committed (`partition.state`, `consumers/`). Only PostgreSQL still knows.
    func restoreAnOlderCopy(_ gateway: GatewayUnderTest, after process: KappaProcess) async throws -> (partition: Int, highWatermark: Int64, segment: String) {
        try await publish(gateway, first: 0, count: 400)
        try await expectProcessed(gateway, 400, process)
        await stop(process)
        try await gateway.expectFullyCommitted()
        let behind = try fullestPartition(gateway)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: behind.segment))
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 5)
        try handle.close()
        let streamDirectory = "\(gateway.dataDirectory)/\(KappaStreams.readings)"
        // (`try?`: a log written before partition.state existed has none.)
        try? FileManager.default.removeItem(atPath: "\(streamDirectory)/\(partitionDirectory(behind.partition))/partition.state")
        try FileManager.default.removeItem(atPath: "\(streamDirectory)/consumers")
        return behind
    }

    @Test("a bit flipped 5 bytes before the end of a partition's last batch after a clean stop: verify fails, the loss is reported, no offset is reused, nothing later is skipped")
    func corruptLastBatchAfterACleanStop() async throws {
        try await GatewayUnderTest.withFresh(name: "logloss") { gateway in
            var process = try await gateway.start()
            try await publish(gateway, first: 0, count: 400)
            try await expectProcessed(gateway, 400, process)
            await stop(process)
            try await gateway.expectFullyCommitted()

            let damaged = try fullestPartition(gateway)
            var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: damaged.segment)))
            bytes[bytes.count - 5] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: damaged.segment))
            let verify = try await logCommand(gateway, ["verify"])
            #expect(verify.status == 2 && verify.output.contains("CORRUPTION"), "\(verify.output)")

            process = try await gateway.start()
            let readiness = try await HTTPProbe.get("\(gateway.baseURL)/readyz")
            #expect(readiness.status == 503 && readiness.body.contains("lost"), "\(readiness.body)")
            let lost = try await gateway.metrics().total("kappa_log_records_lost_total", matching: ["stream": KappaStreams.readings, "partition": "\(damaged.partition)"])
            #expect(lost >= 1, "\(process.output.suffix(2000))")
            #expect(process.output.contains("the log lost acknowledged records"))

            // Readings published after the loss get offsets above every one handed out before, and are processed.
            try await publish(gateway, first: 400, count: 200)
            try await expectProcessed(gateway, 600, process)
            #expect(try await gateway.metrics().total("kappa_processor_failed") == 0)
            await stop(process)
            try await gateway.expectFullyCommitted()
            let offsets = try await storedOffsets(gateway, partition: damaged.partition)
            let kept = damaged.highWatermark - Int64(lost)
            #expect(offsets.filter { $0 >= kept }.allSatisfy { $0 >= damaged.highWatermark }, "an offset was handed out twice")
            #expect(offsets.last.map { $0 >= damaged.highWatermark } ?? false, "no new reading in the damaged partition")

            // And after the next restart nothing is skipped either.
            process = try await gateway.start()
            try await publish(gateway, first: 600, count: 100)
            try await expectProcessed(gateway, 700, process)
            await stop(process)

            let verifyAfter = try await logCommand(gateway, ["verify"])
            #expect(verifyAfter.status == 3 && verifyAfter.output.contains("LOST"), "\(verifyAfter.output)")
            let acknowledge = try await logCommand(gateway, ["acknowledge-loss"])
            #expect(acknowledge.status == 0 && acknowledge.output.contains("1 losses acknowledged"), "\(acknowledge.output)")
            let verifyAcknowledged = try await logCommand(gateway, ["verify"])
            #expect(verifyAcknowledged.status == 0, "\(verifyAcknowledged.output)")
            process = try await gateway.start()
            #expect(await gateway.eventually(timeout: .seconds(30)) { await gateway.readinessStatus() == 200 }, "\(process.output.suffix(2000))")
            #expect(try await gateway.metrics().total("kappa_log_records_lost_total") == lost, "the loss stays counted")
            await stop(process)
        }
    }

    @Test("a log that ends before the processors' committed offsets goes on after them; later readings are not skipped")
    func processorsAheadOfTheLog() async throws {
        try await GatewayUnderTest.withFresh(name: "logahead") { gateway in
            var process = try await gateway.start()
            let behind = try await restoreAnOlderCopy(gateway, after: process)

            process = try await gateway.start()
            // Nothing is published until the processors found the database ahead of the log.
            #expect(await gateway.eventually(timeout: .seconds(30)) {
                try await HTTPProbe.get("\(gateway.baseURL)/readyz").body.contains("committed up to offset \(behind.highWatermark)")
            }, "\(process.output.suffix(3000))")
            #expect(try await gateway.metrics().total("kappa_processor_failed") == 0, "\(process.output.suffix(3000))")
            try await publish(gateway, first: 400, count: 200)
            try await expectProcessed(gateway, 600, process)
            await stop(process)
            try await gateway.expectFullyCommitted()
            let offsets = try await storedOffsets(gateway, partition: behind.partition)
            #expect(offsets.last.map { $0 >= behind.highWatermark } ?? false, "no new reading in the partition behind")

            process = try await gateway.start()
            try await publish(gateway, first: 600, count: 100)
            try await expectProcessed(gateway, 700, process)
            await stop(process)
        }
    }

    @Test("a gateway running only the bridge on a log behind PostgreSQL appends after the committed offsets, so the processors skip none of it")
    func bridgeAloneOnALogBehindTheDatabase() async throws {
        try await GatewayUnderTest.withFresh(name: "logahead-bridge") { gateway in
            var process = try await gateway.start()
            let behind = try await restoreAnOlderCopy(gateway, after: process)

            // No processor runs to notice; the bridge takes readings at once.
            process = try await gateway.start(extraArguments: ["--roles", "bridge"])
            try await publish(gateway, first: 400, count: 200)
            #expect(await gateway.eventually(timeout: .seconds(30)) {
                try await gateway.metrics().total("kappa_readings_appended_total") >= 200
            }, "\(process.output.suffix(3000))")
            await stop(process)
            let offsets = try await storedOffsets(gateway, partition: behind.partition)
            #expect(offsets.last.map { $0 >= behind.highWatermark } ?? false, "the bridge appended at offsets the processors had committed: \(offsets.suffix(5))")

            process = try await gateway.start()
            try await expectProcessed(gateway, 600, process)
            await stop(process)
        }
    }
}
