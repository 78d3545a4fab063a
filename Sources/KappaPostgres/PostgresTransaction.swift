/// The isolation level of a transaction (`BEGIN ISOLATION LEVEL …`).
public struct PostgresIsolationLevel: Hashable, Sendable {
    let sql: String

    public static let readCommitted = PostgresIsolationLevel(sql: "READ COMMITTED")
    public static let repeatableRead = PostgresIsolationLevel(sql: "REPEATABLE READ")
    public static let serializable = PostgresIsolationLevel(sql: "SERIALIZABLE")
}

extension PostgresConnection {
    /// Runs `body` inside `BEGIN` … `COMMIT`; any error thrown by `body` rolls back and is rethrown.
    ///
    /// If a statement failed inside `body` and `body` swallowed the error, PostgreSQL answers the COMMIT with a
    /// ROLLBACK; this throws then, so a caller never believes aborted work was committed. Retry the whole
    /// closure when the error ``PostgresError/isRetryable`` (serialization failure, deadlock, lost connection
    /// after a ``reset()``). Not nestable: PostgreSQL has one transaction per session (use `SAVEPOINT` for that).
    public func withTransaction<Value>(
        _ level: PostgresIsolationLevel? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        try await execute(level.map { "BEGIN ISOLATION LEVEL \($0.sql)" } ?? "BEGIN")
        let value: Value
        do {
            value = try await body(self)
        } catch {
            // The original error matters more than a failed ROLLBACK (the connection may be gone).
            _ = try? await execute("ROLLBACK")
            throw error
        }
        let commit = try await query("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(
                code: .queryFailed,
                message: "the transaction had failed and was rolled back at COMMIT",
                sqlState: .inFailedSQLTransaction
            )
        }
        return value
    }
}
