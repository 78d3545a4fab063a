import Logging

extension PostgresConnection {
    /// Connects, runs `body` with the connection, and closes it before returning or rethrowing.
    ///
    /// The close is awaited, never left to a detached task: when this returns, the session is gone from the
    /// server, so a command that exits right after leaves no half-closed connection behind, and a caller that
    /// connects again (to the same database, with a connection limit) finds the slot free.
    public static func withConnection<Value>(
        _ configuration: PostgresConfiguration,
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        let connection = try await connect(configuration, logger: logger)
        let value: Value
        do {
            value = try await body(connection)
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        return value
    }
}
