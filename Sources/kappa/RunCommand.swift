import ArgumentParser
import Foundation
import KappaCore
import KappaGateway
import KappaLog
import KappaMQTT
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle
import UnixSignals

/// `kappa run`: the gateway. Bridge and processors in one process, as one service group.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway: MQTT into the log, processors into PostgreSQL.",
        // Paragraphs are single lines (the terminal wraps them); examples are short lines that paste as they are.
        discussion: """
        Subscribes to the broker with a persistent session (fixed client id, QoS 1), appends every reading to \
        the partitioned log before acknowledging it, and runs the processors over the log. SIGTERM or Ctrl-C \
        stops intake, lets the processors make a final checkpoint, syncs the log and exits 0.

        Every option is also an environment variable and a key of the --config file; a flag beats the \
        variable, which beats the file. `kappa config show` prints the effective settings and where each came \
        from; deploy/kappa.example.yaml lists every key. Invalid settings exit 2.

        Examples:

        kappa run --mqtt mqtt://127.0.0.1:1883 \\
          --database postgres://kappa@127.0.0.1/kappa \\
          --data-dir /var/lib/kappa

        KAPPA_MQTT=mqtt://gateway@broker:1883 \\
          KAPPA_MQTT_PASSWORD_FILE=/etc/kappa/mqtt-password \\
          kappa run --roles bridge

        kappa run --config /etc/kappa/kappa.yaml \\
          --topic 'sites/{site}/{device}/{metric}=number'
        """
    )

    @OptionGroup var options: RunOptions

    @Option(help: ArgumentHelp("While intake drains a broker backlog, processors more than this many records behind put off their work (at most 5 s between checkpoints); -1 never (default 10000).", valueName: "records", visibility: .hidden))
    var intakeDeferralLag: Int64 = 10_000

    func run() async throws {
        var settings: GatewaySettings
        do {
            let layers = try SettingsLayers.load(flags: options.flags, environment: ProcessInfo.processInfo.environment)
            settings = try GatewaySettings.resolve(layers)
        } catch {
            throw ValidationError(error.description)
        }
        settings.processors.intakeDeferral = intakeDeferralLag < 0 ? nil : IntakeDeferral(lagRecords: intakeDeferralLag)
        let logLevel = settings.logLevel
        let logFormat = settings.logFormat
        LoggingSystem.bootstrap { label in
            switch logFormat {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = logLevel
                return handler
            }
        }
        let logger = Logger(label: "kappa")
        let resolved = settings
        let gateway = try await Blocking.run { try Gateway.make(settings: resolved, logger: logger) }
        if let database = settings.database {
            // Before any service starts: the bridge must not append at offsets the processors committed.
            await CommittedOffsetsFloor.apply(to: gateway.streams, database: database, schema: settings.databaseSchema, logger: logger)
        }
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
    /// The streams the bridge appends to.
    var streams: [DiskStream]
    var bridge: MQTTBridge?
    var services: [any Service]

    static func make(settings: GatewaySettings, logger: Logger) throws -> Gateway {
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        let log = try DiskLog(directory: settings.dataDirectory, configuration: settings.log, logger: logger)
        if log.truncatedTailCount > 0 {
            logger.warning("log recovery cut the end of partitions (see above whether records were lost)", metadata: ["kappa.count": "\(log.truncatedTailCount)"])
        }
        for loss in log.recordedLosses where !loss.acknowledged {
            logger.error("the log lost acknowledged records (not acknowledged yet: /readyz stays not ready)", metadata: ["kappa.loss": "\(loss)"])
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
        var alertCounters: [AlertCounters] = []
        let processorRoles = settings.roles.compactMap { ProcessorRole(rawValue: $0.rawValue) }.sorted { $0.rawValue < $1.rawValue }
        if !processorRoles.isEmpty {
            guard let database = settings.database else {
                throw ValidationError("the processors need a database: give --database, KAPPA_DATABASE or PG* variables, or run only --roles bridge")
            }
            let status = ProcessorStatus()
            let health = DatabaseHealth(database: database, logger: logger)
            var sinks: [any AnomalyAlertSink] = []
            var alertServices: [any Service] = []
            if processorRoles.contains(.anomalies), !settings.alerts.topic.isEmpty {
                // A client of its own: alerts must not wait behind the bridge's intake, nor share its session.
                var alerts = settings.bridge.mqtt
                alerts.clientID = alerts.clientID.map { "\($0)-alerts" }
                alerts.cleanSession = true
                let client = try MQTTClient.make(configuration: alerts, logger: logger)
                let sink = MQTTAlertSink(client: client, topicTemplate: settings.alerts.topic, logger: logger)
                sinks.append(sink)
                alertCounters.append(sink.counters)
                alertServices.append(MQTTClientService(client: client))
            }
            if processorRoles.contains(.anomalies), let url = settings.alerts.webhookURL {
                let webhook = WebhookAlertSink(configuration: .init(url: url, format: settings.alerts.webhookFormat), logger: logger)
                sinks.append(webhook)
                alertCounters.append(webhook.counters)
                alertServices.append(webhook)
            }
            let alertSink: (any AnomalyAlertSink)? = sinks.isEmpty ? nil : AlertFanOut(sinks)
            services.insert(contentsOf: [health] + alertServices + [
                ProcessorsService(
                    roles: processorRoles.map(\.rawValue), log: log, database: database, schema: settings.databaseSchema,
                    migrate: settings.migrate, configuration: settings.processors, status: status, health: health,
                    alertSink: alertSink, intake: settings.roles.contains(.bridge) ? intake : nil, logger: logger
                ),
            ] as [any Service], at: 1)
            processors = ProcessorMetrics(status: status, health: health, maxReadyLagRecords: settings.maxReadyLagRecords)
        }
        for role in settings.roles where role != .bridge && ProcessorRole(rawValue: role.rawValue) == nil {
            logger.warning("role not available in this build; skipped", metadata: ["kappa.role": "\(role.rawValue)"])
        }
        let metrics = GatewayMetrics(log: log, streams: [readings, deadLetters], bridge: bridge, processors: processors, alerts: alertCounters)
        services.append(try HTTPEndpoints.application(address: settings.http, metrics: metrics, logger: logger))
        return Gateway(log: log, streams: [readings, deadLetters], bridge: bridge, services: services)
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
