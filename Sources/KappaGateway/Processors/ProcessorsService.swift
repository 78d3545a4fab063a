public import KappaCore
public import KappaLog
public import KappaPostgres
import KappaStorage
public import KappaStream
public import Logging
public import ServiceLifecycle
import Synchronization

/// The processors of `kappa run`, as one service: migrates the schema (retrying with backoff while
/// PostgreSQL is unreachable, so the bridge keeps filling the log meanwhile), then runs every processor
/// in an inner service group until graceful shutdown, when each makes its final checkpoint.
public struct ProcessorsService: Service {
    let roles: [ProcessorRole]
    let log: any PartitionedLog
    let database: PostgresConfiguration
    let schema: String
    let migrate: Bool
    let configuration: ProcessorConfiguration
    let status: ProcessorStatus
    let health: DatabaseHealth
    let alertSink: (any AnomalyAlertSink)?
    /// The bridge's, when it runs in this process: processors far behind give way while it drains a backlog.
    let intake: IntakePressure?
    let logger: Logger

    /// `roles` are processor names (``ProcessorCatalog``); unknown ones are left out.
    public init(
        roles: [String], log: any PartitionedLog, database: PostgresConfiguration, schema: String, migrate: Bool,
        configuration: ProcessorConfiguration, status: ProcessorStatus, health: DatabaseHealth,
        alertSink: (any AnomalyAlertSink)?, intake: IntakePressure?, logger: Logger
    ) {
        self.roles = roles.compactMap(ProcessorRole.init(rawValue:))
        self.log = log
        self.database = database
        self.schema = schema
        self.migrate = migrate
        self.configuration = configuration
        self.status = status
        self.health = health
        self.alertSink = alertSink
        self.intake = intake
        self.logger = logger
    }

    public func run() async throws {
        guard let configurations = await prepareWhenReachable() else { return }
        guard let services = try await processorsWhenLogAnswers(configurations) else { return }
        // One processor failing for good (its status says why, /readyz reports it) must not end the others,
        // nor, through the outer group, the bridge's intake.
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore) },
            logger: logger
        ))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            Task { await group.triggerGracefulShutdown() }
        }
        // Every processor may have stopped on errors; returning now would end the gateway, bridge included.
        if !Task.isShuttingDownGracefully { try? await gracefulShutdown() }
    }

    /// Opens each processor's stream, which on JetStream asks the cluster (stream names and info): while the
    /// log is unavailable, say a NATS node just died and its streams or the cluster's meta leader are being
    /// elected again, the processors wait and try again (the bridge's pause says why on /readyz) instead of
    /// ending the gateway. Nil when shutdown came first.
    private func processorsWhenLogAnswers(_ configurations: [(ProcessorRole, ProcessorConfiguration)]) async throws -> [any Service]? {
        var delay = Duration.milliseconds(200)
        while true {
            do {
                // Blocks on the network (JetStream requests): off the cooperative pool.
                return try await Blocking.run { [self] in
                    var services: [any Service] = []
                    for (role, configuration) in configurations {
                        services += try ProcessorSet.make(
                            roles: [role], log: log, database: database, schema: schema,
                            configuration: configuration, status: status, alertSink: alertSink, intake: intake, logger: logger
                        )
                    }
                    return services
                }
            } catch let error as LogError where error.isTransient {
                logger.warning("the log does not answer; processors wait for it", metadata: [
                    "kappa.error": "\(error)", "kappa.retry_in": "\(delay)",
                ])
                let pause = delay
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
                } catch {
                    return nil
                }
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Migrates (unless told not to) and finds each processor's active output version, retrying while
    /// PostgreSQL is unreachable; nil when shutdown came first.
    private func prepareWhenReachable() async -> [(ProcessorRole, ProcessorConfiguration)]? {
        await KappaDatabase(configuration: database, schema: schema).withConnectionRetrying(migrate: false, logger: logger) { error, delay in
            health.record(problem: "cannot prepare the schema: \(error)")
            logger.warning("PostgreSQL not reachable; processors wait, the bridge keeps ingesting", metadata: [
                "kappa.error": "\(error)", "kappa.retry_in": "\(delay)",
            ])
        } _: { connection in
            try await self.prepare(connection)
        }
    }

    private func prepare(_ connection: PostgresConnection) async throws -> [(ProcessorRole, ProcessorConfiguration)] {
        if migrate {
            let applied = try await SchemaMigrator(schema: PostgresIdentifier(schema)).migrate(connection)
            logger.info("database schema ready", metadata: ["kappa.schema": "\(schema)", "kappa.migrations": "\(applied.count)"])
        }
        return try await activeConfigurations(connection)
    }

    /// Each processor writes into the version its views show (`kappa versions activate`), with the settings
    /// recorded for that version, so a restart after a switch keeps feeding what users read.
    private func activeConfigurations(_ connection: PostgresConnection) async throws -> [(ProcessorRole, ProcessorConfiguration)] {
        let versions = OutputVersions(schema: PostgresIdentifier(schema))
        var result: [(ProcessorRole, ProcessorConfiguration)] = []
        for role in roles {
            var roleConfiguration = configuration
            let active = try await versions.active(connection, processor: role.rawValue)
            if let active, active.version != configuration.outputVersion {
                roleConfiguration.outputVersion = active.version
                roleConfiguration.apply(outputSettings: active.configuration, for: role)
                logger.info("processor follows its active output version", metadata: [
                    "kappa.processor": "\(role.rawValue)", "kappa.version": "\(active.version)",
                ])
            } else if role == .rollups, let active {
                // Rollup widths belong to the version: unless set, they are the ones it was built with.
                roleConfiguration.apply(outputSettings: active.configuration, for: role)
            }
            result.append((role, roleConfiguration))
        }
        return result
    }
}

/// Whether PostgreSQL answers, checked every few seconds, so readiness reflects an outage even while no
/// checkpoint is due.
public final class DatabaseHealth: Service, Sendable {
    private let database: PostgresConfiguration
    private let logger: Logger
    private let state = Mutex<String?>("not checked yet")

    public init(database: PostgresConfiguration, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Why the database is not reachable, or nil.
    public var problem: String? { state.withLock { $0 } }

    public func record(problem: String?) {
        state.withLock { $0 = problem }
    }

    public func run() async throws {
        var connection: PostgresConnection?
        while !Task.isShuttingDownGracefully {
            do {
                if connection == nil {
                    connection = try await PostgresConnection.connect(database, logger: logger)
                }
                _ = try await connection!.query("SELECT 1", [])
                record(problem: nil)
            } catch {
                record(problem: "\(error)")
                if let broken = connection { await broken.close() }
                connection = nil
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            } catch {
                break
            }
        }
        if let connection { await connection.close() }
    }
}

