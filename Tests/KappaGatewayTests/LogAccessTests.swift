import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaTestSupport
import Logging
import Testing

/// How the commands open the log beside (or instead of) a running gateway, on real log directories.
@Suite("log access of the commands")
struct LogAccessTests {
    static let logger = Logger(label: "kappa.test.log", factory: { _ in SwiftLogNoOpLogHandler() })

    static func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = try TemporaryDirectory.make(prefix: "kappa-gateway-log")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    @Test("a log another process holds: writing is refused with what to stop, reading read-only works")
    func exclusiveAndReadOnly() async throws {
        try await Self.withDirectory { directory in
            let holder = try DiskLog(directory: directory, logger: Self.logger)
            defer { holder.close() }
            _ = try holder.createStream(named: KappaStreams.readings, partitionCount: 2)
            let logDirectory = LogDirectory(path: directory)
            #expect(throws: SettingsError("The log at \(directory) is open in another process: stop `kappa run` while importing.")) {
                try logDirectory.openExclusive(configuration: DiskLogConfiguration(), while: "while importing", logger: Self.logger)
            }
            let reader = try logDirectory.openReadOnly(logger: Self.logger)
            defer { reader.close() }
            #expect(try reader.streamNames() == [KappaStreams.readings])
        }
    }

    @Test("SharedLog: writable with no other holder; read-only with a refresher that picks up the holder's appends", .timeLimit(.minutes(1)))
    func sharedLog() async throws {
        try await Self.withDirectory { directory in
            let alone = try SharedLog.open(directory: directory, logger: Self.logger)
            #expect(alone.refresher == nil)
            _ = try alone.log.createStream(named: "events", partitionCount: 1)
            alone.log.close()

            let holder = try DiskLog(directory: directory, logger: Self.logger)
            defer { holder.close() }
            let shared = try SharedLog.open(directory: directory, logger: Self.logger)
            defer { shared.log.close() }
            let refresher = try #require(shared.refresher)
            let stream = try shared.log.openStream(named: "events")
            #expect(stream.offsets(partition: 0).highWatermark == 0)
            _ = try holder.openStream(named: "events").append(key: Array("k".utf8), eventTime: Timestamp(secondsSinceEpoch: 1), value: Array("v".utf8))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await refresher.run() }
                while stream.offsets(partition: 0).highWatermark == 0 { try await Task.sleep(for: .milliseconds(20)) }
                tasks.cancelAll()
            }
            #expect(stream.offsets(partition: 0).highWatermark == 1)
        }
    }

    @Test("the newest dead letters of each partition, oldest first, at most the limit each; nil without a dead-letter stream")
    func deadLetterListing() async throws {
        try await Self.withDirectory { directory in
            let log = try DiskLog(directory: directory, logger: Self.logger)
            defer { log.close() }
            #expect(try await DeadLetterListing.newest(in: log, limit: 10) == nil)
            let stream = try log.createStream(named: KappaStreams.deadLetters, partitionCount: 1)
            for number in 0..<5 {
                let letter = DeadLetter(
                    topic: "devices/d\(number)/telemetry", payload: Array("{".utf8), receivedAt: Timestamp(secondsSinceEpoch: Int64(number)),
                    reason: .emptyPayload, message: "letter \(number)"
                )
                _ = try stream.append(key: Array(letter.topic.utf8), eventTime: letter.receivedAt, value: DeadLetterRecord.encode(letter))
            }
            let newest = try #require(try await DeadLetterListing.newest(in: log, limit: 2))
            #expect(newest.map(\.offset) == [3, 4])
            #expect(newest.map(\.letter.message) == ["letter 3", "letter 4"])
            #expect(newest.allSatisfy { $0.partition == 0 && $0.letter.reason == .emptyPayload })
        }
    }

    @Test("dump: from an offset, at most the count, or to the end; tail: the last records of each partition")
    func dumpAndTail() async throws {
        try await Self.withDirectory { directory in
            let log = try DiskLog(directory: directory, logger: Self.logger)
            defer { log.close() }
            let stream = try log.createStream(named: "events", partitionCount: 1)
            for number in 0..<25 {
                _ = try stream.append(key: Array("k".utf8), eventTime: Timestamp(secondsSinceEpoch: Int64(number)), value: Array("\(number)".utf8))
            }
            var dumped: [Int64] = []
            try LogInspection.forEachRecord(of: stream, partition: 0, from: 20, count: 3) { dumped.append($0.offset) }
            #expect(dumped == [20, 21, 22])
            dumped.removeAll()
            try LogInspection.forEachRecord(of: stream, partition: 0, from: 22, count: nil) { dumped.append($0.offset) }
            #expect(dumped == [22, 23, 24])
            var tailed: [String] = []
            try await LogInspection.tail(of: stream, in: log, last: 2, follow: false) { partition, record in
                tailed.append("\(partition)@\(record.offset)=\(RecordFormatting.text(record.value))")
            }
            #expect(tailed == ["0@23=23", "0@24=24"])
        }
    }

    @Test("records print as text when printable, else as hex")
    func recordText() {
        #expect(RecordFormatting.text(Array("pump-1\t21.5".utf8)) == "pump-1\t21.5")
        #expect(RecordFormatting.text([0x00, 0x1F, 0xAB]) == "0x001fab")
        #expect(RecordFormatting.text([0xC3, 0x28]) == "0xc328")
        #expect(RecordFormatting.text([UInt8]()) == "")
    }
}
