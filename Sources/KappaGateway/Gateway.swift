import Foundation
import KappaCore
import KappaLog
import KappaMQTT
import KappaPostgres
import KappaStorage
import KappaStream
import Logging
import ServiceLifecycle
import UnixSignals

/// The running parts of `kappa run`, in start order (the service group stops them in reverse): the log, the
/// alert publishers, the processors, the MQTT bridge, the HTTP endpoints.
public struct Gateway: Sendable {
    public var log: GatewayLog
    /// The streams the bridge appends to.
    public var streams: [any LogStream]
    public var bridge: MQTTBridge?
    public var services: [any Service]

    /// What the processors' part of the gateway is built from.
    public struct ProcessorWiring: Sendable {
        public var roles: [ProcessorRole]
        public var log: GatewayLog
        public var database: PostgresConfiguration
        public var settings: GatewaySettings
        public var alertSink: (any AnomalyAlertSink)?
        /// The bridge's, when it runs in this process.
        public var intake: IntakePressure?
        public var logger: Logger
    }

    /// Builds the processors' services (started in the order given) and what they report to /metrics and /readyz.
    public typealias ProcessorsFactory = @Sendable (ProcessorWiring) throws -> (services: [any Service], reporting: any ProcessorReporting)

    /// Opens the log and builds every service `settings` asks for; starts nothing. Blocks (opening the log
    /// recovers it, or connects to JetStream and checks its streams): call it off the cooperative pool.
    public static func make(settings: GatewaySettings, logger: Logger, processors makeProcessors: ProcessorsFactory) throws -> Gateway {
        let log = try GatewayLog.open(settings: settings, logger: logger)
        let readings: any LogStream
        let deadLetters: any LogStream
        var sparkplugLifecycle: (any LogStream)? = nil
        do {
            if let disk = log.disk {
                if disk.truncatedTailCount > 0 {
                    logger.warning("log recovery cut the end of partitions (see above whether records were lost)", metadata: ["kappa.count": "\(disk.truncatedTailCount)"])
                }
                for loss in disk.recordedLosses where !loss.acknowledged {
                    logger.error("the log lost acknowledged records (not acknowledged yet: /readyz stays not ready)", metadata: ["kappa.loss": "\(loss)"])
                }
            }
            let wait = settings.natsAccess.startupWait
            readings = try log.openOrCreate(KappaStreams.readings, partitions: settings.readingPartitions, startupWait: wait, logger: logger)
            deadLetters = try log.openOrCreate(KappaStreams.deadLetters, partitions: KappaStreams.defaultDeadLetterPartitions, startupWait: wait, logger: logger)
            if settings.bridge.sparkplug {
                sparkplugLifecycle = try log.openOrCreate(KappaStreams.sparkplugLifecycle, partitions: KappaStreams.defaultSparkplugLifecyclePartitions, startupWait: wait, logger: logger)
            }
        } catch {
            log.close()
            throw error
        }
        var services: [any Service] = [LogService(log: log)]
        var bridge: MQTTBridge? = nil
        let intake = IntakePressure()
        if settings.roles.contains(.bridge) {
            let made = try MQTTBridge.make(
                configuration: settings.bridge, readings: readings, deadLetters: deadLetters, sparkplugLifecycle: sparkplugLifecycle,
                intakePressure: intake, logger: logger
            )
            bridge = made
            services.append(made)
        }
        var processors: (any ProcessorReporting)? = nil
        var alertCounters: [AlertCounters] = []
        var processorRoles = settings.roles.compactMap { ProcessorRole(rawValue: $0.rawValue) }.sorted { $0.rawValue < $1.rawValue }
        if !settings.bridge.sparkplug, processorRoles.contains(.deviceStatus) {
            // Its stream holds Sparkplug births and deaths only: without Sparkplug it would wait on an empty
            // stream (and create it). Give --sparkplug to the processors' process too when they run apart.
            processorRoles.removeAll { $0 == .deviceStatus }
        }
        if !processorRoles.isEmpty {
            guard let database = settings.database else {
                throw SettingsError("the processors need a database: give --database, KAPPA_DATABASE or PG* variables, or run only --roles bridge")
            }
            let alerts = try alertSinks(settings: settings, roles: processorRoles, logger: logger)
            alertCounters = alerts.counters
            let made = try makeProcessors(ProcessorWiring(
                roles: processorRoles, log: log, database: database, settings: settings, alertSink: alerts.sink,
                intake: settings.roles.contains(.bridge) ? intake : nil, logger: logger
            ))
            services.insert(contentsOf: alerts.services + made.services, at: 1)
            processors = made.reporting
        }
        for role in settings.roles where role != .bridge && ProcessorRole(rawValue: role.rawValue) == nil {
            logger.warning("role not available in this build; skipped", metadata: ["kappa.role": "\(role.rawValue)"])
        }
        let streams = [readings, deadLetters] + (sparkplugLifecycle.map { [$0] } ?? [])
        let metrics = GatewayMetrics(log: log, streams: streams, bridge: bridge, processors: processors, alerts: alertCounters)
        services.append(try HTTPEndpoints.application(address: settings.http, metrics: metrics, logger: logger))
        return Gateway(log: log, streams: streams, bridge: bridge, services: services)
    }

    /// Runs every service until SIGTERM or SIGINT, then stops them in reverse order. The log's next offsets
    /// are first moved past what the processors committed, before any service starts: the bridge must not
    /// append at offsets the processors already count as done.
    public func run(settings: GatewaySettings, logger: Logger) async throws {
        // JetStream cannot lose its tail the way one disk can, nor skip offsets: each processor still checks
        // its committed offsets against the log when it starts, and stops with a clear error if they are beyond it.
        if let database = settings.database, log.disk != nil {
            await CommittedOffsetsFloor.apply(to: streams, database: database, schema: settings.databaseSchema, logger: logger)
        }
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        // Bounded even if PostgreSQL hangs in the final checkpoint (the log already holds everything, so a
        // cancelled checkpoint loses nothing); below systemd's TimeoutStopSec of 30 s.
        configuration.maximumGracefulShutdownDuration = .seconds(25)
        try await ServiceGroup(configuration: configuration).run()
    }

    /// The anomaly alert sinks the settings ask for, fanned out into one, with the services that deliver them.
    static func alertSinks(settings: GatewaySettings, roles: [ProcessorRole], logger: Logger) throws
        -> (sink: (any AnomalyAlertSink)?, services: [any Service], counters: [AlertCounters])
    {
        guard roles.contains(.anomalies) else { return (nil, [], []) }
        var sinks: [any AnomalyAlertSink] = []
        var services: [any Service] = []
        var counters: [AlertCounters] = []
        if !settings.alerts.topic.isEmpty {
            // A client of its own: alerts must not wait behind the bridge's intake, nor share its session.
            var alerts = settings.bridge.mqtt
            alerts.clientID = alerts.clientID.map { "\($0)-alerts" }
            alerts.cleanSession = true
            let client = try MQTTClient.make(configuration: alerts, logger: logger)
            let sink = MQTTAlertSink(client: client, topicTemplate: settings.alerts.topic, logger: logger)
            sinks.append(sink)
            counters.append(sink.counters)
            services.append(MQTTClientService(client: client))
        }
        if let url = settings.alerts.webhookURL {
            let webhook = WebhookAlertSink(configuration: .init(url: url, format: settings.alerts.webhookFormat), logger: logger)
            sinks.append(webhook)
            counters.append(webhook.counters)
            services.append(webhook)
        }
        return (sinks.isEmpty ? nil : AlertFanOut(sinks), services, counters)
    }

}

/// Runs an MQTT client for the life of the service group (the anomaly alerts' publisher).
public struct MQTTClientService: Service {
    public let client: MQTTClient

    public init(client: MQTTClient) {
        self.client = client
    }

    public func run() async throws {
        try client.start()
        try? await gracefulShutdown()
        let client = self.client
        // disconnect() joins the network thread: off the cooperative pool.
        await Blocking.run { client.disconnect() }
    }
}
