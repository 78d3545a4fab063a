import KappaCore
import KappaLog
import KappaPostgres
import Logging
import ServiceLifecycle

/// Builds the processor services `kappa run` and `kappa process` start.
public enum ProcessorSet {
    /// One `Service` per role, each with its own PostgreSQL connection, reading `log`'s streams (created
    /// with the default partition counts when missing). Run them in a `ServiceGroup`; the schema must be
    /// migrated first (``SchemaMigrator``). Their figures appear in `status`. New anomaly episodes go to
    /// `alertSink` (besides PostgreSQL's `NOTIFY kappa_anomalies`) once committed. With `intake` (the bridge's,
    /// in the same process) processors far behind give way while it drains a backlog.
    public static func make<Log: PartitionedLog>(
        roles: [ProcessorRole] = ProcessorRole.allCases,
        log: Log,
        database: PostgresConfiguration,
        schema: String = KappaSchema.defaultSchema,
        configuration: ProcessorConfiguration = ProcessorConfiguration(),
        status: ProcessorStatus = ProcessorStatus(),
        alertSink: (any AnomalyAlertSink)? = nil,
        intake: IntakePressure? = nil,
        logger: Logger
    ) throws -> [any Service] {
        let schema = PostgresIdentifier(schema)
        var services: [any Service] = []
        for role in roles {
            let streamName = role.streamName
            let partitions = role == .deadLetters ? KappaStreams.defaultDeadLetterPartitions : KappaStreams.defaultReadingPartitions
            let stream: Log.Stream
            if try log.streamNames().contains(streamName) {
                stream = try log.openStream(named: streamName)
            } else {
                stream = try log.createStream(named: streamName, partitionCount: partitions)
            }
            let partitionCount = stream.partitionCount
            let make: @Sendable () -> any StreamProcessor
            switch role {
            case .rollups:
                make = {
                    RollupProcessor(
                        widths: configuration.rollupWidths, partitionCount: partitionCount,
                        duplicateWindowRecords: configuration.duplicateWindowRecords, schema: schema, version: configuration.outputVersion
                    )
                }
            case .devices:
                make = { DeviceRegistryProcessor(partitionCount: partitionCount, configuration: configuration, schema: schema) }
            case .archive:
                make = { ArchiveProcessor(partitionCount: partitionCount, configuration: configuration, schema: schema) }
            case .anomalies:
                make = { AnomalyProcessor(partitionCount: partitionCount, configuration: configuration, schema: schema, alertSink: alertSink) }
            case .deadLetters:
                make = { DeadLetterProcessor(configuration: configuration, schema: schema) }
            }
            services.append(ProcessorRunner(
                name: role.rawValue, stream: stream, database: database, schema: schema,
                configuration: configuration, status: status, intake: intake, logger: logger, makeProcessor: make
            ))
        }
        return services
    }
}
