/// An error from ``PostgresConnection``: what failed (``code``), what the server said, and whether retrying helps.
///
/// `description` is safe to log: it never contains the password, the connection string or the values of query
/// parameters. ``detail`` is kept out of it because PostgreSQL puts row values there
/// (`Key (device)=(sensor-7) already exists.`); read it explicitly where that is acceptable.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Extensible: new codes may be added, so `switch` with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectionFailed, connectionLost, queryFailed, copyFailed, decoding, closed, unexpectedResult
            case invalidConfiguration
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Connecting (or `reset()`) failed: server unreachable, refused the login, database missing, bad conninfo.
        public static let connectionFailed = Code(.connectionFailed)
        /// The connection broke during or before the call (server shut down, network lost); `reset()` and retry.
        public static let connectionLost = Code(.connectionLost)
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        public static let queryFailed = Code(.queryFailed)
        /// A `COPY … FROM STDIN` failed, on the server or while sending data.
        public static let copyFailed = Code(.copyFailed)
        /// A result value could not be decoded as the type asked for.
        public static let decoding = Code(.decoding)
        /// The connection was closed with `close()`.
        public static let closed = Code(.closed)
        /// The server answered with something the call did not expect (rows from `execute`, no COPY state…).
        public static let unexpectedResult = Code(.unexpectedResult)
        /// The configuration could not be used (an unparsable connection string, for example).
        public static let invalidConfiguration = Code(.invalidConfiguration)

        public var description: String {
            switch base {
            case .connectionFailed: "connectionFailed"
            case .connectionLost: "connectionLost"
            case .queryFailed: "queryFailed"
            case .copyFailed: "copyFailed"
            case .decoding: "decoding"
            case .closed: "closed"
            case .unexpectedResult: "unexpectedResult"
            case .invalidConfiguration: "invalidConfiguration"
            }
        }
    }

    public var code: Code
    /// The server's SQLSTATE, when the server reported the error.
    public var sqlState: SQLState?
    /// The primary message (from the server, libpq or this library), without a trailing newline.
    public var message: String
    /// The server's DETAIL line; may contain row values, so it is not part of `description`.
    public var detail: String?
    /// The server's HINT line.
    public var hint: String?
    /// The server's severity (`ERROR`, `FATAL`, `PANIC`), not localised.
    public var severity: String?
    /// The constraint that was violated, for integrity errors.
    public var constraintName: String?
    /// The table the error is about, when the server says.
    public var tableName: String?
    /// For ``PostgresConnection/executeBatch(_:)``: the index of the statement that failed.
    public var statementIndex: Int?
    /// Whether doing the same work again (after ``PostgresConnection/reset()`` for connection errors) may succeed.
    public var isRetryable: Bool

    public init(
        code: Code,
        message: String,
        sqlState: SQLState? = nil,
        detail: String? = nil,
        hint: String? = nil,
        severity: String? = nil,
        isRetryable: Bool? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.severity = severity
        self.isRetryable = isRetryable ?? (code == .connectionLost || sqlState?.isRetryable == true)
    }

    public var description: String {
        var text = "PostgreSQL \(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let constraintName { text += " (constraint \(constraintName))" }
        if let statementIndex { text += " (statement \(statementIndex) of the batch)" }
        if let hint { text += " Hint: \(hint)" }
        if isRetryable { text += " (retryable)" }
        return text
    }
}
