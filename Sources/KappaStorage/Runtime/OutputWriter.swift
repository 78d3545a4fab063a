public import KappaLog
public import KappaPostgres
public import KappaStream

/// How one processor's output reaches PostgreSQL: what it loads before resuming and how it writes its pending
/// output inside the checkpoint transaction (``PostgresCheckpointStore`` does the transaction, the offsets and
/// the rejected records). One per processor, in the folder named like the processor's in `KappaStream`.
public protocol OutputWriter<Processor>: Sendable {
    associatedtype Processor: StreamProcessor

    /// Loads what the processor keeps in the database (inside no transaction); the default loads nothing.
    func load(into processor: Processor, stream: any LogStream, connection: PostgresConnection) async throws

    /// Gives the processor what applying `batch` needs that it keeps only in the database (state that left memory
    /// while idle), before the batch is applied (inside no transaction); the default gives nothing.
    func prepare(_ processor: Processor, batch: [(partition: Int, records: [LogRecord])], connection: PostgresConnection) async throws

    /// Writes the pending output; called inside the checkpoint transaction, possibly again after a failure.
    func write(_ processor: Processor, connection: PostgresConnection) async throws
}

extension OutputWriter {
    public func load(into processor: Processor, stream: any LogStream, connection: PostgresConnection) async throws {}

    public func prepare(_ processor: Processor, batch: [(partition: Int, records: [LogRecord])], connection: PostgresConnection) async throws {}
}
