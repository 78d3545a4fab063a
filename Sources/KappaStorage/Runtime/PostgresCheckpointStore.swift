public import KappaLog
public import KappaPostgres
public import KappaStream
public import Logging

/// The PostgreSQL ``CheckpointStore``: one connection per runner; each checkpoint writes the processor's output
/// (its ``OutputWriter``), the rejected records and the fenced offsets in one transaction. The same connection
/// holds the runner's partition claims (``PartitionLocks``) when gateways share the log.
public struct PostgresCheckpointStore<Writer: OutputWriter>: CheckpointStore {
    public let database: PostgresConfiguration
    public let offsets: ProcessorOffsets
    public let writer: Writer
    private let logger: Logger

    public init(database: PostgresConfiguration, offsets: ProcessorOffsets, writer: Writer, logger: Logger) {
        self.database = database
        self.offsets = offsets
        self.writer = writer
        self.logger = logger
    }

    public func openSession() async throws -> PostgresCheckpointSession<Writer> {
        PostgresCheckpointSession(connection: try await PostgresConnection.connect(database, logger: logger), store: self)
    }
}

/// One connection of a ``PostgresCheckpointStore``.
public final class PostgresCheckpointSession<Writer: OutputWriter>: CheckpointSession {
    public typealias Processor = Writer.Processor

    private let connection: PostgresConnection
    private let store: PostgresCheckpointStore<Writer>
    /// Whether this connection holds the partition members' shared lock (a reconnect loses it).
    private var joinedMembers = false

    init(connection: PostgresConnection, store: PostgresCheckpointStore<Writer>) {
        self.connection = connection
        self.store = store
    }

    /// Where the rollback of a successful trial comes from.
    private struct TrialSucceeded: Error {}

    public func loadOffsets() async throws -> [Int: Int64] {
        try await store.offsets.load(connection)
    }

    public func load(into processor: Processor, stream: any LogStream, offsets: [Int64]) async throws {
        try await store.writer.load(into: processor, stream: stream, connection: connection)
    }

    public func prepare(_ processor: Processor, batch: [(partition: Int, records: [LogRecord])]) async throws {
        try await store.writer.prepare(processor, batch: batch, connection: connection)
    }

    public func commit(_ processor: Processor, rejected: [RejectedRecord], offsets: [Int64], previous: [Int64]) async throws {
        let (store, connection) = (self.store, self.connection)
        try await connection.withTransaction { connection in
            if processor.hasPendingOutput { try await store.writer.write(processor, connection: connection) }
            try await RejectedRecords(offsets: store.offsets).store(rejected, connection)
            try await store.offsets.advance(to: offsets, from: previous, connection)
        }
    }

    public func trial(_ processor: Processor) async throws -> (any CheckpointStoreError)? {
        let writer = store.writer
        do {
            try await connection.withTransaction { connection in
                try await writer.write(processor, connection: connection)
                throw TrialSucceeded()
            }
        } catch is TrialSucceeded {
            return nil
        } catch let error as PostgresError where error.dependsOnData {
            return error
        }
        return nil
    }

    public func reset() async throws {
        joinedMembers = false
        try await connection.reset()
    }

    public func partitionClaims(partitionCount: Int) async throws -> PartitionClaims {
        let locks = PartitionLocks(offsets: store.offsets)
        if !joinedMembers {
            try await locks.join(connection)
            joinedMembers = true
        }
        return try await locks.claims(partitionCount: partitionCount, connection)
    }

    public func claim(partition: Int) async throws -> Bool {
        try await PartitionLocks(offsets: store.offsets).claim(partition: partition, connection)
    }

    public func release(partition: Int) async throws {
        try await PartitionLocks(offsets: store.offsets).release(partition: partition, connection)
    }

    public func close() async {
        await connection.close()
    }
}
