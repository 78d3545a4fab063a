import KappaStorage
import KappaStream
import ServiceLifecycle

extension Gateway {
    /// The processors of `kappa run`: the database pinger, then ``ProcessorsService``, reported through
    /// /metrics and /readyz by ``ProcessorMetrics``.
    @Sendable public static func standardProcessors(_ wiring: ProcessorWiring) -> (services: [any Service], reporting: any ProcessorReporting) {
        let status = ProcessorStatus()
        let health = DatabaseHealth(database: wiring.database, logger: wiring.logger)
        let settings = wiring.settings
        let processors = ProcessorsService(
            roles: wiring.roles.map(\.rawValue), log: wiring.log.partitioned, database: wiring.database, schema: settings.databaseSchema,
            migrate: settings.migrate, configuration: settings.processors, status: status, health: health,
            alertSink: wiring.alertSink, intake: wiring.intake, logger: wiring.logger
        )
        return ([health, processors], ProcessorMetrics(status: status, health: health, maxReadyLagRecords: settings.maxReadyLagRecords))
    }
}
