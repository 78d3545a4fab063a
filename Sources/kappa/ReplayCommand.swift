import ArgumentParser
import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaPostgres
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle
import UnixSignals

/// `kappa replay`: rebuilds a processor's output from the log into a new version beside the live one.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Reprocess the log into a new output version of a processor, beside the live one.",
        discussion: """
            Creates the version's tables (like the active version's), consumes the log from --from and keeps \
            going as a live processor once caught up. Ctrl-C / SIGTERM checkpoints and stops; running the same \
            command again resumes from the version's offsets. Switch readers over with `kappa versions activate`. \
            Works beside a running `kappa run` (the log is then read read-only).

            Example:

            kappa replay rollups --output-version v2 \\
              --from earliest --rollup-widths 1m,5m,1h
            """
    )

    @Argument(help: ArgumentHelp("The processor: \(ProcessorRole.allCases.map(\.rawValue).joined(separator: ", ")).")) var processor: String
    @Option(help: ArgumentHelp("Where to start: earliest, an RFC 3339 time, or an offset (every partition).", valueName: "start"))
    var from = "earliest"
    // Not --version: that is every kappa command's "show the version" flag, and help would list both.
    @Option(name: .customLong("output-version"), help: ArgumentHelp("The new output version's name, e.g. v2: 1 to 24 lower-case letters, digits or underscores, starting with a letter.", valueName: "name")) var version: String
    @Option(help: ArgumentHelp("Rollup widths, e.g. 1m,5m,1h (default 1m,1h,1d).", valueName: "widths")) var rollupWidths: String?
    @Option(help: ArgumentHelp("Rollups: how long each width is kept, e.g. 1m=30d,1h=400d,1d=forever (buckets already past it are not written).", valueName: "width=duration,…")) var rollupRetention: String?
    @Option(help: ArgumentHelp("Devices: seconds without a reading before a device shows offline.", valueName: "s")) var offlineAfterSeconds: Int?
    @Option(help: ArgumentHelp("Archive: days of raw readings kept (0: all).", valueName: "days")) var archiveRetentionDays: Int?
    @Flag(help: "Exit 0 once caught up with the log (after a final checkpoint) instead of running on live.") var untilCaughtUp = false
    @Option(help: "Milliseconds between checkpoints.") var checkpointMilliseconds = 1000
    @Option(help: ArgumentHelp("Nice value (0-19) of the replay's threads, so a replay beside a running gateway never slows its intake; on an idle machine it costs nothing.", valueName: "n"))
    var processorNice: Int32 = 10
    @Option(help: "Records consumed before a checkpoint is forced.") var maxBatch = 50_000
    @Option(help: ArgumentHelp("Milliseconds between progress lines on stderr.", visibility: .hidden)) var progressMilliseconds = 1000
    @OptionGroup var logOptions: CommandLogOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var schema: SchemaOptions

    func validate() throws {
        guard ProcessorRole(rawValue: processor) != nil else {
            throw ValidationError("unknown processor '\(processor)': use \(ProcessorRole.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard ReplayStart(argument: from) != nil else { throw ValidationError("--from must be earliest, an RFC 3339 time or an offset.") }
        do { try OutputVersions.validate(version, processor: processor) } catch { throw ValidationError("\(error)") }
        if let rollupWidths { _ = try reportingInputErrors { try ProcessorTuning.rollupWidths(rollupWidths) } }
        if let rollupRetention { _ = try reportingInputErrors { try ProcessorTuning.rollupRetention(rollupRetention) } }
        guard (0...19).contains(processorNice) else { throw ValidationError("--processor-nice must be 0…19.") }
        guard checkpointMilliseconds > 0, maxBatch > 0, progressMilliseconds > 0 else {
            throw ValidationError("--checkpoint-milliseconds, --max-batch and --progress-milliseconds must be positive.")
        }
    }

    func run() async throws {
        var logger = Logger(label: "kappa.replay")
        logger.logLevel = .notice
        let kappaDatabase = try database.kappaDatabase(schema: schema)
        try await kappaDatabase.migrate(logger: logger)

        var tuning = ProcessorTuning(checkpointInterval: .milliseconds(checkpointMilliseconds), maxBatchRecords: maxBatch)
        tuning.outputVersion = version
        tuning.threadNiceness = processorNice
        tuning.rollupWidths = try rollupWidths.map { text in try reportingInputErrors { try ProcessorTuning.rollupWidths(text) } }
        tuning.rollupRetention = try rollupRetention.map { text in try reportingInputErrors { try ProcessorTuning.rollupRetention(text) } }
        tuning.deviceOfflineAfterSeconds = offlineAfterSeconds
        tuning.archiveRetentionDays = archiveRetentionDays

        let (log, refresher) = try logOptions.open(.shared, logger: logger)
        defer { log.close() }
        switch log {
        case .disk(let disk): try await replay(on: disk, refresher: refresher, tuning: tuning, database: kappaDatabase, logger: logger)
        case .jetStream(let jetStream): try await replay(on: jetStream, refresher: nil, tuning: tuning, database: kappaDatabase, logger: logger)
        }
    }

    /// The replay itself, on either log (`Replay` is generic over the log's type).
    private func replay<Log: PartitionedLog>(on log: Log, refresher: LogRefresher?, tuning: ProcessorTuning, database kappaDatabase: KappaDatabase, logger: Logger) async throws {
        let replay = Replay(
            role: ProcessorRole(rawValue: processor)!, start: ReplayStart(argument: from)!, configuration: tuning.configuration, log: log,
            database: kappaDatabase.configuration, schema: kappaDatabase.schema, logger: logger
        )
        let preparation = try await replay.prepare()
        let startedAt = preparation.offsets.reduce(0, +)
        if preparation.resumed {
            StandardError.write("Resuming \(processor) \(version) from its offsets (--from ignored).\n")
        } else {
            let created = preparation.createdVersion ? " (tables created)" : ""
            StandardError.write("Replaying \(processor) into \(version) from \(replay.start)\(created).\n")
        }
        let name = "\(processor) \(version)"
        var services = try replay.services(untilCaughtUp: untilCaughtUp, progressInterval: .milliseconds(progressMilliseconds)) { progress in
            StandardError.write(Self.line(name, progress, replayedSinceStart: progress.committed - startedAt) + "\n")
        }
        if let refresher { services.insert(ServiceGroupConfiguration.ServiceConfiguration(service: refresher), at: 0) }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ))
        try await group.run()
        let caughtUp = try await kappaDatabase.hasCaughtUp(processor: processor, version: version, logger: logger)
        if untilCaughtUp, caughtUp {
            StandardError.write("\(name) caught up with the log; activate it with `kappa versions activate \(processor) \(version)`.\n")
        } else {
            StandardError.write("Stopped \(name) after a final checkpoint; run the same command again to resume.\n")
        }
    }

    static func line(_ name: String, _ progress: ReplayProgress, replayedSinceStart: Int64) -> String {
        var text = "\(name): \(replayedSinceStart) records replayed, \(Int(progress.recordsPerSecond.rounded())) records/s, lag \(progress.lag)"
        if progress.isCaughtUp {
            text += ", caught up"
        } else if let eta = progress.estimatedSecondsLeft {
            text += ", ETA \(Int(eta.rounded(.up)))s"
        }
        text += " |"
        for partition in progress.partitions {
            text += " p\(partition.partition) \(partition.committed)/\(partition.highWatermark)"
        }
        return text
    }
}
