public import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream
public import Logging
public import ServiceLifecycle

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
        try make(
            roles.map(\.descriptor), log: log, database: database, schema: schema, configuration: configuration,
            status: status, alertSink: alertSink, intake: intake, logger: logger
        )
    }

    /// The same for any descriptors, registered in ``ProcessorCatalog`` or not (a test's own processor).
    public static func make<Log: PartitionedLog>(
        _ descriptors: [ProcessorDescriptor],
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
        for descriptor in descriptors {
            let stream: Log.Stream
            if try log.streamNames().contains(descriptor.streamName) {
                stream = try log.openStream(named: descriptor.streamName)
            } else {
                stream = try log.createStream(named: descriptor.streamName, partitionCount: descriptor.defaultPartitions)
            }
            services.append(descriptor.makeRunner(ProcessorDescriptor.Context(
                stream: stream, database: database, schema: schema, configuration: configuration, status: status,
                alertSink: alertSink, intake: intake, logger: logger
            )))
        }
        return services
    }
}
