import ArgumentParser
import KappaCore
import KappaGateway
import KappaLog
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `kappa log …`: look into the partitioned log.
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect the partitioned log.",
        subcommands: [Info.self, Tail.self, Dump.self, Verify.self, AcknowledgeLoss.self, AppendTest.self]
    )
}

/// `--data-dir`, defaulting to `KAPPA_DATA_DIR`, else `./data`.
struct DataDirectoryOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The log's data directory (default: $KAPPA_DATA_DIR, else ./data).")
    var dataDirectory: String?

    var directory: LogDirectory { LogDirectory(flag: dataDirectory) }
    var path: String { directory.path }

    /// Opens read-only: inspecting never truncates or locks what a running gateway is writing.
    func openReadOnly() throws -> DiskLog {
        try directory.openReadOnly(logger: Logger(label: "kappa.log"))
    }
}

extension LogCommand {
    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Streams, partitions, offsets, sizes and event-time ranges.")
        @OptionGroup var data: DataDirectoryOptions

        func run() throws {
            let log = try data.openReadOnly()
            defer { log.close() }
            for name in try log.streamNames() {
                let stream = try log.openStream(named: name)
                print("stream \(name): \(stream.partitionCount) partitions")
                for partition in 0..<stream.partitionCount {
                    let summary = stream.summary(partition: partition)
                    let times = summary.minEventTime.map { "\($0) … \(summary.maxEventTime.map { "\($0)" } ?? "")" } ?? "empty"
                    print("  partition \(partition): offsets \(summary.offsets.start)..<\(summary.offsets.highWatermark) (\(summary.offsets.count) records), \(summary.segmentCount) segments, \(summary.bytes) bytes, event times \(times)")
                }
                for loss in log.recordedLosses where loss.stream == name {
                    print("  LOST \(loss)")
                }
                for (group, offsets) in stream.consumerGroups.sorted(by: { $0.key < $1.key }) {
                    print("  consumer \(group): " + offsets.sorted(by: { $0.key < $1.key }).map { "\($0.key)@\($0.value)" }.joined(separator: " "))
                }
            }
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest records of a stream and follow new ones.")
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "The stream.") var stream = "readings"
        @Option(help: "Records to show from the end of each partition before following.") var last: Int64 = 10
        @Flag(name: .customLong("no-follow"), help: "Print and exit instead of following.") var noFollow = false

        func run() async throws {
            let log = try data.openReadOnly()
            defer { log.close() }
            let stream = try log.openStream(named: self.stream)
            try await LogInspection.tail(of: stream, in: log, last: last, follow: !noFollow) { partition, record in
                print(RecordFormatting.line(stream: stream.name, partition: partition, record))
            }
        }
    }

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print records of one partition from an offset.")
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "The stream.") var stream = "readings"
        @Option(help: "The partition.") var partition: Int
        @Option(help: "The first offset.") var from: Int64 = 0
        @Option(help: "How many records (default: to the end).") var count: Int?

        func run() throws {
            let log = try data.openReadOnly()
            defer { log.close() }
            let stream = try log.openStream(named: self.stream)
            try LogInspection.forEachRecord(of: stream, partition: partition, from: from, count: count) { record in
                print(RecordFormatting.line(stream: stream.name, partition: partition, record))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every batch's CRC and framing, and list recorded losses.",
            discussion: """
            Exit status: 0 when everything is intact (a torn tail after a crash is what recovery cuts: no loss), \
            2 on corruption, 3 when acknowledged records were lost and no operator acknowledged it yet \
            (`kappa log acknowledge-loss`).
            """
        )
        @OptionGroup var data: DataDirectoryOptions

        func run() throws {
            let report = try LogVerifier.verify(directory: data.path)
            print("\(report.streams) streams, \(report.partitions) partitions, \(report.segments) segments, \(report.batches) batches, \(report.records) records, \(report.bytes) bytes checked")
            for problem in report.problems { print(problem) }
            if !report.corruptions.isEmpty {
                print("\(report.corruptions.count) corrupt segments: acknowledged records are damaged; opening the log cuts them and records the loss")
                throw ExitCode(2)
            }
            if !report.unacknowledgedLosses.isEmpty {
                let records = report.unacknowledgedLosses.reduce(Int64(0)) { total, problem in
                    if case .recordedLoss(let count, _) = problem.kind { total + count } else { total }
                }
                print("\(records) acknowledged records were lost (\(report.unacknowledgedLosses.count) ranges, offsets never reused); `kappa log acknowledge-loss` once handled")
                throw ExitCode(3)
            }
            print(report.problems.contains(where: \.isTornTail) ? "ok (torn tails are cut by recovery when the log is next opened)" : "ok")
        }
    }

    struct AcknowledgeLoss: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acknowledge-loss",
            abstract: "Mark the log's recorded losses as seen, so /readyz and `kappa log verify` pass again.",
            discussion: "The losses stay listed and counted in kappa_log_records_lost_total. Stop `kappa run` first: this opens the log for writing."
        )
        @OptionGroup var data: DataDirectoryOptions

        func run() throws {
            let log = try DiskLog(directory: data.path, logger: Logger(label: "kappa.log"))
            defer { log.close() }
            let acknowledged = try log.acknowledgeLosses()
            for loss in acknowledged { print("acknowledged: \(loss)") }
            print(acknowledged.isEmpty ? "no unacknowledged losses" : "\(acknowledged.count) losses acknowledged")
        }
    }

    /// Appends numbered records as fast as it can, printing each position once `append` has returned:
    /// the crash test kills it with SIGKILL and checks that every printed record is in the log.
    struct AppendTest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "append-test", abstract: "Append numbered test records (for crash tests).", shouldDisplay: false)
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: "The stream.") var stream = "append-test"
        @Option(help: "Partitions, if the stream is created.") var partitions = 4
        @Option(help: "Records to append.") var count = 1_000_000
        @Option(help: "Records per append call (1: single appends).") var batch = 1

        func run() throws {
            var configuration = DiskLogConfiguration()
            configuration.fsync = .never
            configuration.segmentMaxBytes = 256 << 10
            let log = try DiskLog(directory: data.path, configuration: configuration, logger: Logger(label: "kappa.log"))
            defer { log.close() }
            let stream = try log.createStream(named: self.stream, partitionCount: partitions)
            var number = 0
            while number < count {
                let records = (number..<min(count, number + batch)).map { number in
                    LogAppendRecord(key: "device-\(number % 97)", eventTime: Timestamp(millisecondsSinceEpoch: Int64(number)), value: Array("record \(number)".utf8))
                }
                let positions = try stream.append(records)
                for (index, position) in positions.enumerated() {
                    print("\(number + index) \(position.partition) \(position.offset)")
                }
                fflush(nil)
                number += records.count
            }
        }
    }
}
