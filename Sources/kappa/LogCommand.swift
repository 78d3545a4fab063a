import ArgumentParser
import Foundation
import KappaCore
import KappaGateway
import KappaJetStream
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
        subcommands: [Info.self, Tail.self, Dump.self, Verify.self, Migrate.self, AcknowledgeLoss.self, AppendTest.self]
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
        static let configuration = CommandConfiguration(abstract: "Streams, partitions, offsets, sizes and event-time ranges (on JetStream: offsets, sizes, replicas and leaders).")
        @OptionGroup var logOptions: CommandLogOptions

        func run() throws {
            let (log, _) = try logOptions.open(.readOnly, logger: Logger(label: "kappa.log"))
            defer { log.close() }
            switch log {
            case .disk(let disk): try Self.describe(disk)
            case .jetStream(let jetStream): try Self.describe(jetStream, expectedReplicas: try logOptions.settings().logLocation.replicas)
            }
        }

        static func describe(_ log: DiskLog) throws {
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

        static func describe(_ log: JetStreamLog, expectedReplicas: Int) throws {
            print("JetStream log on \(log.configuration.servers.joined(separator: ","))")
            for name in try log.streamNames() {
                let reports = try log.partitionReports(of: name, expectedReplicas: expectedReplicas)
                print("stream \(name): \(reports.count) partitions")
                for report in reports {
                    var line = "  partition \(report.partition) (\(report.jetStreamName)): offsets \(report.offsets.start)..<\(report.offsets.highWatermark) (\(report.messages) records), \(report.bytes) bytes, replicas \(report.replicas)"
                    if let leader = report.leader { line += ", leader \(leader)" }
                    if !report.laggingReplicas.isEmpty { line += ", offline or behind: \(report.laggingReplicas.joined(separator: ", "))" }
                    print(line)
                }
            }
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest records of a stream and follow new ones.")
        @OptionGroup var logOptions: CommandLogOptions
        @Option(help: "The stream.") var stream = "readings"
        @Option(help: "Records to show from the end of each partition before following.") var last: Int64 = 10
        @Flag(name: .customLong("no-follow"), help: "Print and exit instead of following.") var noFollow = false

        func run() async throws {
            let (log, _) = try logOptions.open(.readOnly, logger: Logger(label: "kappa.log"))
            defer { log.close() }
            let stream = try log.openStream(named: self.stream)
            try await LogInspection.tail(of: stream, last: last, follow: !noFollow, refresh: { try log.disk?.refreshFromDisk() }) { partition, record in
                print(RecordFormatting.line(stream: stream.name, partition: partition, record))
            }
        }
    }

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print records of one partition from an offset.")
        @OptionGroup var logOptions: CommandLogOptions
        @Option(help: "The stream.") var stream = "readings"
        @Option(help: "The partition.") var partition: Int
        @Option(help: "The first offset.") var from: Int64 = 0
        @Option(help: "How many records (default: to the end).") var count: Int?

        func run() throws {
            let (log, _) = try logOptions.open(.readOnly, logger: Logger(label: "kappa.log"))
            defer { log.close() }
            let stream = try log.openStream(named: self.stream)
            try LogInspection.forEachRecord(of: stream, partition: partition, from: from, count: count) { record in
                print(RecordFormatting.line(stream: stream.name, partition: partition, record))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every batch's CRC and framing, and list recorded losses (on JetStream: stream configurations, dense offsets, every record).",
            discussion: """
            Exit status: 0 when everything is intact (a torn tail after a crash is what recovery cuts: no loss), \
            2 on corruption, 3 when acknowledged records were lost and no operator acknowledged it yet \
            (`kappa log acknowledge-loss`). On JetStream (--log nats://…): 2 when a partition's stream differs \
            from what Kappa creates (replicas against --log-replicas), has offsets without a message, a replica \
            offline or behind, or a record that does not read back at its offset or decode.
            """
        )
        @OptionGroup var logOptions: CommandLogOptions

        func run() throws {
            let settings = try logOptions.settings()
            if case .jetStream = settings.logLocation {
                let (log, _) = try GatewayLog.openForCommand(settings: settings, access: .readOnly, logger: Logger(label: "kappa.log"))
                defer { log.close() }
                guard case .jetStream(let jetStream) = log else { return }
                var lastProgress = ContinuousClock.now
                let report = try jetStream.verify(expectedReplicas: settings.logLocation.replicas) { records in
                    guard ContinuousClock.now - lastProgress >= .seconds(2) else { return }
                    lastProgress = ContinuousClock.now
                    StandardError.write("\(records) records read\n")
                }
                print("\(report.streams) streams, \(report.partitions) partitions, \(report.records) records, \(report.bytes) bytes checked on JetStream")
                for problem in report.problems { print(problem) }
                if !report.problems.isEmpty { throw ExitCode(2) }
                print("ok")
                return
            }
            let report = try LogVerifier.verify(directory: settings.dataDirectory)
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

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy the embedded log into NATS JetStream, every record at its offset, so processors continue on it.",
            discussion: """
            Stop `kappa run` first (the embedded log is opened with its lock). Each partition is copied from \
            offset 0 to its end and then verified record by record; an interrupted run, or more records taken \
            after an earlier migration, is completed by running the same command again. Then start \
            `kappa run --log nats://…` with the same database: processors continue from their checkpoints. \
            A partition whose oldest records retention already deleted cannot keep its offsets and is refused.

            Example:

            kappa log migrate --data-dir /var/lib/kappa --to nats://n1:4222,n2:4222,n3:4222
            """
        )
        @OptionGroup var data: DataDirectoryOptions
        @Option(help: ArgumentHelp("The JetStream cluster to copy into.", valueName: "nats://host:port,…")) var to: String
        @OptionGroup var location: LogLocationOptions

        func run() throws {
            let logger = Logger(label: "kappa.log")
            var flags = location.flags
            flags[GatewaySettingsCatalog.logURL] = [to]
            flags[GatewaySettingsCatalog.dataDirectory] = data.dataDirectory.map { [$0] }
            let settings = try reportingInputErrors {
                try GatewaySettings.resolve(try SettingsLayers.load(flags: flags, environment: ProcessInfo.processInfo.environment))
            }
            guard case .jetStream(let servers, let replicas) = settings.logLocation else {
                throw ValidationError("--to must name a NATS cluster, nats://host:port[,host:port…].")
            }
            var configuration = DiskLogConfiguration()
            configuration.fsync = .never
            let source = try reportingInputErrors {
                try LogDirectory(path: settings.dataDirectory).openExclusive(configuration: configuration, while: "while migrating the log", logger: logger)
            }
            defer { source.close() }
            let target = try JetStreamLog.connect(configuration: settings.natsAccess.configuration(servers: servers, replicas: replicas), logger: logger)
            defer { target.close() }
            let clock = ContinuousClock()
            let started = clock.now
            var lastProgress = started
            let summary = try LogMigration(source: source, target: target).run { progress in
                guard clock.now - lastProgress >= .seconds(2) else { return }
                lastProgress = clock.now
                StandardError.write("\(progress.stream) partition \(progress.partition): \(progress.copied)/\(progress.target) records on JetStream\n")
            }
            print("Copied \(summary.copied) records (\(summary.streams) streams, \(summary.partitions) partitions) from \(settings.dataDirectory) to \(servers.joined(separator: ",")) in \(clock.now - started); all \(summary.verified) records verified at their offsets.")
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
