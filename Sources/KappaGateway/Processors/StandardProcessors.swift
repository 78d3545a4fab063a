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
        var configuration = settings.processors
        if wiring.log.disk == nil {
            // Other gateways may share this log: each processor claims its share of the partitions.
            configuration.ownership = .shared(rebalanceInterval: .seconds(1))
        }
        let processors = ProcessorsService(
            roles: wiring.roles.map(\.rawValue), log: wiring.log.partitioned, database: wiring.database, schema: settings.databaseSchema,
            migrate: settings.migrate, configuration: configuration, status: status, health: health,
            alertSink: wiring.alertSink, intake: wiring.intake, logger: wiring.logger
        )
        return ([health, processors], ProcessorMetrics(status: status, health: health, maxReadyLagRecords: settings.maxReadyLagRecords))
    }
}
