public import KappaCore
public import KappaLog
public import KappaPostgres
public import KappaStream
public import Logging
public import ServiceLifecycle

/// Everything the gateway needs to know about one processor: its name, the stream it reads, its versioned
/// outputs, its migrations, how its settings are recorded with an output version, and how to build its runner.
/// Registered once, in ``ProcessorCatalog``; each lives beside its writer (`Rollups/RollupDescriptor.swift`, …).
public struct ProcessorDescriptor: Sendable {
    /// What a descriptor's factory is given to build a runner.
    public struct Context: Sendable {
        public let stream: any LogStream
        public let database: PostgresConfiguration
        public let schema: PostgresIdentifier
        public let configuration: ProcessorConfiguration
        public let status: ProcessorStatus
        public let alertSink: (any AnomalyAlertSink)?
        public let intake: IntakePressure?
        public let logger: Logger

        /// The PostgreSQL store of processor `name` writing with `writer` at the configured output version.
        public func store<Writer: OutputWriter>(_ name: String, writer: Writer) -> PostgresCheckpointStore<Writer> {
            PostgresCheckpointStore(
                database: database,
                offsets: ProcessorOffsets(schema: schema, processor: name, version: configuration.outputVersion, stream: stream.name),
                writer: writer, logger: logger
            )
        }
    }

    public let name: String
    /// The log stream it consumes, and its partition count when the stream must be created.
    public let streamName: String
    public let defaultPartitions: Int
    /// Its versioned tables and the views over them (``OutputVersions``).
    public let outputs: ProcessorOutputs
    /// Migrations creating its tables; Kappa's built-in processors' are in ``KappaSchema/migrations``.
    public let migrations: [SchemaMigration]
    /// The settings that shape its output, as the JSON stored with a version (a replay into an existing version
    /// must use the same).
    public let outputSettingsJSON: @Sendable (ProcessorConfiguration) -> String
    /// Puts the settings recorded with a version back into a configuration (a restart follows the active version).
    public let applyOutputSettings: @Sendable (inout ProcessorConfiguration, String) -> Void
    private let makeService: @Sendable (Context) -> any Service

    /// - Parameters:
    ///   - makeWriter: the writer for a schema, output version and the processors' settings.
    ///   - makeProcessor: a fresh processor for a stream of `partitionCount` partitions (called again after a
    ///     crash-free restart and for every trial that isolates rejected records).
    public init<Writer: OutputWriter>(
        name: String,
        streamName: String = KappaStreams.readings,
        defaultPartitions: Int = KappaStreams.defaultReadingPartitions,
        tables: [String],
        views: [String] = [],
        migrations: [SchemaMigration] = [],
        outputSettingsJSON: @escaping @Sendable (ProcessorConfiguration) -> String = { _ in "{}" },
        applyOutputSettings: @escaping @Sendable (inout ProcessorConfiguration, String) -> Void = { _, _ in },
        makeWriter: @escaping @Sendable (_ schema: PostgresIdentifier, _ version: String, _ configuration: ProcessorConfiguration) -> Writer,
        makeProcessor: @escaping @Sendable (_ partitionCount: Int, _ context: Context) -> Writer.Processor
    ) {
        self.name = name
        self.streamName = streamName
        self.defaultPartitions = defaultPartitions
        self.outputs = ProcessorOutputs(processor: name, tables: tables, views: views)
        self.migrations = migrations
        self.outputSettingsJSON = outputSettingsJSON
        self.applyOutputSettings = applyOutputSettings
        makeService = { context in
            let partitionCount = context.stream.partitionCount
            return ProcessorRunner(
                name: name, stream: context.stream,
                store: context.store(name, writer: makeWriter(context.schema, context.configuration.outputVersion, context.configuration)),
                configuration: context.configuration, status: context.status, intake: context.intake, logger: context.logger,
                makeProcessor: { makeProcessor(partitionCount, context) }
            )
        }
    }

    /// The runner of this processor, a `Service`.
    public func makeRunner(_ context: Context) -> any Service {
        makeService(context)
    }
}
