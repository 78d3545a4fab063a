import ArgumentParser
import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaStream
import Logging
import ServiceLifecycle
import UnixSignals

/// `kappa run`: the gateway. Bridge and processors in one process, as one service group.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway: MQTT into the log, processors into PostgreSQL.",
        discussion: """
        Subscribes to the broker with a persistent session (fixed client id, QoS 1), appends every reading to the
        partitioned log before acknowledging it, and runs the processors over the log. SIGTERM or Ctrl-C stops
        intake, lets the processors make a final checkpoint, syncs the log and exits 0.

        Examples:
          kappa run --mqtt mqtt://127.0.0.1:1883 --database postgres://kappa@127.0.0.1/kappa --data-dir /var/lib/kappa
          KAPPA_MQTT=mqtt://gateway@broker:1883 KAPPA_MQTT_PASSWORD=… kappa run --roles bridge
          kappa run --config /etc/kappa/kappa.yaml --topic 'sites/{site}/{device}/{metric}=number'
        """
    )

    @OptionGroup var gateway: GatewayOptions
    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Comma-separated roles: \(GatewaySettings.Role.allCases.map(\.rawValue).joined(separator: ",")) (default: all).", valueName: "roles"))
    var roles: String?

    @Option(help: ArgumentHelp("MQTT topic for anomaly alerts; {device}, {metric}, {detector}, {severity} are filled in; '' turns alerts off (default: $KAPPA_ALERT_TOPIC, else alerts/{device}/{metric}).", valueName: "template"))
    var alertTopic: String?

    @Flag(help: "Do not migrate the database schema on start (run `kappa db migrate` yourself).")
    var noMigrate = false

    @Option(help: ArgumentHelp("Records of processor lag above which /readyz reports not ready.", valueName: "records"))
    var readyMaxLag = 100_000

    @Option(help: ArgumentHelp("Nice value (0-19) of the processor threads, so intake keeps the CPU it needs and the processors catch up from the log when it is quieter; 0 turns this off.", valueName: "n"))
    var processorNice: Int32 = 10

    @Option(help: ArgumentHelp("While intake drains a broker backlog, processors more than this many records behind put off their work (at most 5 s between checkpoints); -1 never (default 10000).", valueName: "records", visibility: .hidden))
    var intakeDeferralLag: Int64 = 10_000

    @Option(help: ArgumentHelp("Address of the metrics and health endpoints (default: $KAPPA_HTTP, else 127.0.0.1:9464).", valueName: "host:port"))
    var http: String?

    func run() async throws {
        var settings: GatewaySettings
        do {
            settings = try GatewaySettings.resolve(options: gateway, database: database, roles: roles, http: http)
            settings.migrate = !noMigrate
            settings.alertTopic = alertTopic ?? ProcessInfo.processInfo.environment["KAPPA_ALERT_TOPIC"] ?? MQTTAlertSink.defaultTopic
            settings.maxReadyLagRecords = Int64(readyMaxLag)
            guard (0...19).contains(processorNice) else { throw ConfigurationError("--processor-nice must be 0…19, not \(processorNice)") }
            settings.processors.threadNiceness = processorNice
            settings.processors.intakeDeferral = intakeDeferralLag < 0 ? nil : IntakeDeferral(lagRecords: intakeDeferralLag)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        let logLevel = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "kappa")
        let resolved = settings
        let gateway = try await Blocking.run { try Gateway.make(settings: resolved, logger: logger) }
        var configuration = ServiceGroupConfiguration(
            services: gateway.services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        // Bounded even if PostgreSQL hangs in the final checkpoint (the log already holds everything, so a
        // cancelled checkpoint loses nothing); below systemd's TimeoutStopSec of 30 s.
        configuration.maximumGracefulShutdownDuration = .seconds(25)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
        logger.info("kappa stopped cleanly")
    }
}

/// The running parts of `kappa run`, in start order (the service group stops them in reverse).
struct Gateway: Sendable {
    var log: DiskLog
    var bridge: MQTTBridge?
    var services: [any Service]

    static func make(settings: GatewaySettings, logger: Logger) throws -> Gateway {
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        let log = try DiskLog(directory: settings.dataDirectory, configuration: settings.log, logger: logger)
        if log.truncatedTailCount > 0 {
            logger.warning("log recovery cut torn tails", metadata: ["kappa.count": "\(log.truncatedTailCount)"])
        }
        let readings = try openOrCreate(log, KappaStreams.readings, partitions: settings.readingPartitions)
        let deadLetters = try openOrCreate(log, KappaStreams.deadLetters, partitions: KappaStreams.defaultDeadLetterPartitions)
        var services: [any Service] = [LogService(log: log)]
        var bridge: MQTTBridge? = nil
        let intake = IntakePressure()
        if settings.roles.contains(.bridge) {
            let made = try MQTTBridge.make(configuration: settings.bridge, readings: readings, deadLetters: deadLetters, intakePressure: intake, logger: logger)
            bridge = made
            services.append(made)
        }
        var processors: ProcessorMetrics? = nil
        let processorRoles = settings.roles.compactMap { ProcessorRole(rawValue: $0.rawValue) }.sorted { $0.rawValue < $1.rawValue }
        var droppedAlerts: DroppedAlerts? = nil
        if !processorRoles.isEmpty {
            guard let database = settings.database else {
                throw ValidationError("the processors need a database: give --database, KAPPA_DATABASE or PG* variables, or run only --roles bridge")
            }
            let status = ProcessorStatus()
            let health = DatabaseHealth(database: database, logger: logger)
            var alertSink: MQTTAlertSink? = nil
            var alertServices: [any Service] = []
            if processorRoles.contains(.anomalies), !settings.alertTopic.isEmpty {
                // A client of its own: alerts must not wait behind the bridge's intake, nor share its session.
                var alerts = settings.bridge.mqtt
                alerts.clientID = alerts.clientID.map { "\($0)-alerts" }
                alerts.cleanSession = true
                let client = try MQTTClient.make(configuration: alerts, logger: logger)
                alertSink = MQTTAlertSink(client: client, topicTemplate: settings.alertTopic, logger: logger)
                droppedAlerts = alertSink?.dropped
                alertServices.append(MQTTClientService(client: client))
            }
            services.insert(contentsOf: [health] + alertServices + [
                ProcessorsService(
                    roles: processorRoles, log: log, database: database, schema: settings.databaseSchema,
                    migrate: settings.migrate, configuration: settings.processors, status: status, health: health,
                    alertSink: alertSink, intake: settings.roles.contains(.bridge) ? intake : nil, logger: logger
                ),
            ] as [any Service], at: 1)
            processors = ProcessorMetrics(status: status, health: health, maxReadyLagRecords: settings.maxReadyLagRecords)
        }
        for role in settings.roles where role != .bridge && ProcessorRole(rawValue: role.rawValue) == nil {
            logger.warning("role not available in this build; skipped", metadata: ["kappa.role": "\(role.rawValue)"])
        }
        var metrics = GatewayMetrics(log: log, streams: [readings, deadLetters], bridge: bridge, processors: processors)
        metrics.droppedAlerts = droppedAlerts
        services.append(try HTTPEndpoints.application(address: settings.http, metrics: metrics, logger: logger))
        return Gateway(log: log, bridge: bridge, services: services)
    }

    private static func openOrCreate(_ log: DiskLog, _ name: String, partitions: Int) throws -> DiskStream {
        if try log.streamNames().contains(name) {
            return try log.openStream(named: name)
        }
        return try log.createStream(named: name, partitionCount: partitions)
    }
}

/// Runs an MQTT client for the life of the service group (the anomaly alerts' publisher).
struct MQTTClientService: Service {
    let client: MQTTClient

    func run() async throws {
        try client.start()
        try? await gracefulShutdown()
        let client = self.client
        // disconnect() joins the network thread: off the cooperative pool.
        await Blocking.run { client.disconnect() }
    }
}
