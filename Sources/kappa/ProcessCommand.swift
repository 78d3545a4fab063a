import ArgumentParser
import KappaGateway
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle
import UnixSignals

/// `kappa process`: only the processors, over a log on disk, until SIGTERM or SIGINT. For crash tests and
/// for catching up a database without the MQTT bridge.
struct ProcessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Run the stream processors over the log until SIGTERM/SIGINT.",
        shouldDisplay: false
    )

    @OptionGroup var data: DataDirectoryOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var schema: SchemaOptions
    @Option(help: "Comma-separated processors: rollups, devices, archive, anomalies, dead-letters (default: all).")
    var roles: String?
    @Option(help: "Milliseconds between checkpoints.") var checkpointMilliseconds = 1000
    @Option(help: "Records consumed before a checkpoint is forced.") var maxBatch = 50_000
    @Option(help: "Days of raw readings the archive keeps (0: keep all).") var archiveRetentionDays = 30
    @Option(help: ArgumentHelp("Broker to publish new anomaly episodes to, mqtt://host[:port] (default: none).", valueName: "url"))
    var alertMQTT: String?
    @Option(help: "Topic template of anomaly alerts ({device}, {metric}, {detector}, {severity}).")
    var alertTopic = MQTTAlertSink.defaultTopic

    func validate() throws {
        _ = try parsedRoles()
        guard checkpointMilliseconds > 0, maxBatch > 0 else { throw ValidationError("--checkpoint-milliseconds and --max-batch must be positive.") }
    }

    private func parsedRoles() throws -> [ProcessorRole] {
        guard let roles else { return ProcessorRole.allCases }
        return try roles.split(separator: ",").map { name in
            guard let role = ProcessorRole(rawValue: String(name)) else { throw ValidationError("unknown role \(name)") }
            return role
        }
    }

    func run() async throws {
        var logger = Logger(label: "kappa.process")
        logger.logLevel = .info
        let kappaDatabase = try database.kappaDatabase(schema: schema)
        try await kappaDatabase.migrate(logger: logger)

        var logConfiguration = DiskLogConfiguration()
        logConfiguration.fsync = .never
        let log = try DiskLog(directory: data.path, configuration: logConfiguration, logger: logger)
        defer { log.close() }
        var tuning = ProcessorTuning(checkpointInterval: .milliseconds(checkpointMilliseconds), maxBatchRecords: maxBatch)
        tuning.archiveRetentionDays = archiveRetentionDays
        let services = try ProcessorsOnly.services(
            roles: try parsedRoles(), log: log, database: kappaDatabase, tuning: tuning, alertMQTT: alertMQTT, alertTopic: alertTopic, logger: logger
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
