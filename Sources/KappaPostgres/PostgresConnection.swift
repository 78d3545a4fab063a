import Dispatch
import Logging
import Synchronization

/// One PostgreSQL session over libpq.
///
/// **Threading.** libpq blocks (connecting, waiting for results, sending COPY data), and Swift's cooperative
/// pool must never block. So each connection owns a serial `DispatchQueue`: every libpq call of this connection
/// runs there, one at a time, and the `async` methods suspend on a continuation until it is done. The calling
/// task's thread is free meanwhile; N connections use at most N queue threads.
///
/// **Sharing.** The type is `Sendable` and calls from several tasks are serialised, but a session has one
/// transaction state: give each task (a processor, a sink) its own connection, and keep statements that belong
/// together inside ``withTransaction(_:isolation:_:)``.
///
/// **Failures.** Errors are ``PostgresError``s. When the server goes away, calls throw errors with
/// ``PostgresError/isRetryable`` set (code `.connectionLost`); ``reset()`` reconnects with the same parameters.
public final class PostgresConnection: Sendable {
    private let queue: DispatchQueue
    private let handle: LibPQConnection
    private let logger: Logger
    private let serverVersionNumberBox: Mutex<Int>

    private init(handle: LibPQConnection, queue: DispatchQueue, logger: Logger) {
        self.handle = handle
        self.queue = queue
        self.logger = logger
        self.serverVersionNumberBox = Mutex(handle.serverVersionNumber)
    }

    /// Connects, then sets the session's `TimeZone` to UTC and `DateStyle` to ISO (the row decoding relies on them).
    /// - Throws: ``PostgresError`` with code `.connectionFailed` (retryable unless the server refused the login
    ///   or the database) or `.invalidConfiguration`.
    public static func connect(_ configuration: PostgresConfiguration, logger: Logger) async throws -> PostgresConnection {
        let queue = DispatchQueue(label: "kappa.postgres.connection")
        let handle = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { () throws(PostgresError) in try LibPQConnection.connect(configuration) })
            }
        }
        let connection = PostgresConnection(handle: handle, queue: queue, logger: logger)
        logger.debug(
            "Connected to PostgreSQL",
            metadata: [
                PostgresLoggingKey.target: "\(handle.target)",
                PostgresLoggingKey.serverVersion: "\(connection.serverVersion)",
            ]
        )
        return connection
    }

    /// Connects with a conninfo string or URL (`postgres://user@host:port/db`); empty for the `PG*` environment.
    public static func connect(_ conninfo: String = "", logger: Logger) async throws -> PostgresConnection {
        try await connect(PostgresConfiguration(conninfo: conninfo), logger: logger)
    }

    // MARK: Statements

    /// Runs one statement with `$1`, `$2`… parameters and returns its rows.
    ///
    /// Values never become part of the SQL text; names that cannot be parameters (schemas, tables) go through
    /// ``PostgresIdentifier``.
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) async throws -> PostgresRows {
        try await onQueue { try $0.execute(sql, parameters) }
    }

    /// Runs one statement and returns the rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) async throws -> Int {
        try await query(sql, parameters).affectedRows
    }

    /// Runs a script of several statements separated by `;`, without parameters (for migrations).
    public func executeScript(_ sql: String) async throws {
        _ = try await onQueue { try $0.execute(sql, [], simpleProtocol: true) }
    }

    /// Sends many parameterised statements in one round trip (libpq pipeline mode) and returns each one's
    /// affected rows.
    ///
    /// Outside ``withTransaction(_:isolation:_:)`` the batch is one implicit transaction: all or nothing.
    /// When a statement fails, the rest are skipped and the error carries its ``PostgresError/statementIndex``.
    public func executeBatch(_ statements: [PostgresStatement]) async throws -> [Int] {
        guard !statements.isEmpty else { return [] }
        return try await onQueue { try $0.executePipelined(statements) }
    }

    // MARK: Notifications

    /// `LISTEN channel`: from now on the server queues this channel's notifications for this session.
    public func listen(_ channel: String) async throws {
        try await execute("LISTEN \(PostgresIdentifier(channel).quoted)")
    }

    /// The notifications received so far on the channels listened to, oldest first; returns at once (poll it).
    public func notifications() async throws -> [PostgresNotification] {
        try await onQueue { try $0.takeNotifications() }
    }

    // MARK: Session

    /// The server's version, `"15.18"` style.
    public var serverVersion: String {
        let number = serverVersionNumber
        return number >= 100_000
            ? "\(number / 10_000).\(number % 10_000)"
            : "\(number / 10_000).\(number / 100 % 100).\(number % 100)"
    }

    /// `PQserverVersion`: 150018 for 15.18.
    public var serverVersionNumber: Int { serverVersionNumberBox.withLock { $0 } }

    /// `user@host:port/database` as connected (after conninfo and environment were resolved); no password.
    public func target() async -> String {
        (try? await onQueue { $0.target }) ?? "(closed)"
    }

    /// Reconnects with the same parameters, for example after the server restarted; the session settings are
    /// made again. Any open transaction was lost with the old session.
    public func reset() async throws {
        let version = try await onQueue { handle in
            try handle.reset()
            return handle.serverVersionNumber
        }
        serverVersionNumberBox.withLock { $0 = version }
        logger.info("Reconnected to PostgreSQL", metadata: [PostgresLoggingKey.serverVersion: "\(serverVersion)"])
    }

    /// Whether the connection is known to be broken (an error told us so); `reset()` repairs it.
    public var isBroken: Bool {
        get async { (try? await onQueue { $0.isBroken }) ?? true }
    }

    /// Closes the session; later calls throw `.closed`. Dropping the last reference also closes it.
    public func close() async {
        _ = try? await onQueue { $0.close() }
    }

    /// Runs `work` on this connection's queue, suspending the caller without blocking its thread.
    func onQueue<Value: Sendable>(
        _ work: @escaping @Sendable (LibPQConnection) throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [handle] in
                continuation.resume(with: Result { try work(handle) })
            }
        }
    }
}

/// A statement with its parameters, for ``PostgresConnection/executeBatch(_:)``.
public struct PostgresStatement: Sendable {
    public var sql: String
    public var parameters: [PostgresValue]

    public init(_ sql: String, _ parameters: [PostgresValue] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}

/// Metadata keys this module logs with.
enum PostgresLoggingKey {
    static let target = "kappa.postgres.target"
    static let serverVersion = "kappa.postgres.server_version"
}
