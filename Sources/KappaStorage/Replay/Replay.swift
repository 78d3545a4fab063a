import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream
public import Logging
public import ServiceLifecycle

/// Reprocesses the log into a new output version of one processor, beside the live version.
///
/// ``prepare()`` creates the version's tables (``OutputVersions``) and, unless the version already has
/// offsets (a stopped replay being resumed), stores where each partition starts. ``services(untilCaughtUp:progressInterval:onProgress:)``
/// then gives an ordinary ``ProcessorSet`` runner writing that version (so it checkpoints, stops and resumes
/// like any processor, and stays on as a live processor once caught up) and a monitor reporting progress.
public struct Replay<Log: PartitionedLog>: Sendable {
    public struct Preparation: Sendable, Hashable {
        /// The version's tables were created now (not found from an earlier run).
        public var createdVersion: Bool
        /// The version already had offsets: the replay continues from them and ignores its start.
        public var resumed: Bool
        /// The next offset per partition.
        public var offsets: [Int64]
    }

    public let role: ProcessorRole
    public let start: ReplayStart
    public let configuration: ProcessorConfiguration
    public let log: Log
    public let database: PostgresConfiguration
    public let schema: PostgresIdentifier
    public let status: ProcessorStatus
    private let logger: Logger

    /// - Parameter configuration: the processor settings of the new version; its `outputVersion` names it.
    public init(
        role: ProcessorRole,
        start: ReplayStart,
        configuration: ProcessorConfiguration,
        log: Log,
        database: PostgresConfiguration,
        schema: String = KappaSchema.defaultSchema,
        status: ProcessorStatus = ProcessorStatus(),
        logger: Logger
    ) {
        self.role = role
        self.start = start
        self.configuration = configuration
        self.log = log
        self.database = database
        self.schema = PostgresIdentifier(schema)
        self.status = status
        self.logger = logger
    }

    public var version: String { configuration.outputVersion }
    public var streamName: String { role.streamName }

    public func prepare() async throws -> Preparation {
        let stream = try log.openStream(named: streamName)
        let connection = try await PostgresConnection.connect(database, logger: logger)
        do {
            let result = try await prepare(connection, stream: stream)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    private func prepare(_ connection: PostgresConnection, stream: Log.Stream) async throws -> Preparation {
        let versions = OutputVersions(schema: schema)
        let (_, created) = try await versions.create(
            connection, processor: role.rawValue, version: version, configuration: configuration.outputSettingsJSON(for: role)
        )
        let stored = try await ProcessorOffsets(schema: schema, processor: role.rawValue, version: version, stream: streamName).load(connection)
        if !stored.isEmpty {
            let offsets = (0..<stream.partitionCount).map { stored[$0] ?? stream.offsets(partition: $0).start }
            return Preparation(createdVersion: created, resumed: true, offsets: offsets)
        }
        var offsets: [Int64] = []
        for partition in 0..<stream.partitionCount {
            offsets.append(try start.offset(in: stream, partition: partition))
        }
        try await ProcessorOffsets(schema: schema, processor: role.rawValue, version: version, stream: streamName).store(offsets, connection)
        return Preparation(createdVersion: created, resumed: false, offsets: offsets)
    }

    /// The processor writing the version and the progress monitor, for a `ServiceGroup`. With
    /// `untilCaughtUp` the monitor ends (and so gracefully shuts the group down) once the replay has caught up.
    public func services(
        untilCaughtUp: Bool,
        progressInterval: Duration = .seconds(1),
        onProgress: @escaping @Sendable (ReplayProgress) -> Void = { _ in }
    ) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let processors = try ProcessorSet.make(
            roles: [role], log: log, database: database, schema: schema.name, configuration: configuration, status: status, logger: logger
        )
        let monitor = ReplayMonitor(
            stream: try log.openStream(named: streamName), database: database,
            offsets: ProcessorOffsets(schema: schema, processor: role.rawValue, version: version, stream: streamName),
            untilCaughtUp: untilCaughtUp, interval: progressInterval, logger: logger, onProgress: onProgress
        )
        return processors.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) } + [
            ServiceGroupConfiguration.ServiceConfiguration(
                service: monitor, successTerminationBehavior: untilCaughtUp ? .gracefullyShutdownGroup : .ignore
            ),
        ]
    }
}
