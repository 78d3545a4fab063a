import KappaPostgres
import Logging
import ServiceLifecycle
import KappaStorage

/// Kappa's schema in one PostgreSQL database, as every command meets it: connect, bring the schema up to
/// date, do the work, close (awaited).
public struct KappaDatabase: Sendable {
    public var configuration: PostgresConfiguration
    /// The schema name, already checked (``SchemaName/check(_:)``).
    public var schema: String

    public init(configuration: PostgresConfiguration, schema: String) {
        self.configuration = configuration
        self.schema = schema
    }

    public var schemaIdentifier: PostgresIdentifier { PostgresIdentifier(schema) }

    /// Connects, migrates unless `migrate` is false, runs `body`, and closes before returning.
    public func withConnection<Value>(
        migrate: Bool = true,
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        let schema = schemaIdentifier
        return try await PostgresConnection.withConnection(configuration, logger: logger) { connection in
            if migrate {
                try await SchemaMigrator(schema: schema).migrate(connection)
            }
            return try await body(connection)
        }
    }

    /// Creates or upgrades the schema; the migrations applied now (none when it was up to date).
    @discardableResult
    public func migrate(logger: Logger) async throws -> [SchemaMigrationStatus] {
        let schema = schemaIdentifier
        return try await PostgresConnection.withConnection(configuration, logger: logger) { connection in
            try await SchemaMigrator(schema: schema).migrate(connection)
        }
    }

    /// Every migration, applied or pending.
    public func migrationStatus(logger: Logger) async throws -> [SchemaMigrationStatus] {
        let schema = schemaIdentifier
        return try await PostgresConnection.withConnection(configuration, logger: logger) { connection in
            try await SchemaMigrator(schema: schema).status(connection)
        }
    }

    /// How ``withConnectionRetrying(migrate:retry:logger:onFailure:_:)`` waits between attempts.
    public struct Backoff: Sendable {
        public var first: Duration
        public var longest: Duration

        public init(first: Duration = .milliseconds(500), longest: Duration = .seconds(10)) {
            self.first = first
            self.longest = longest
        }
    }

    /// As ``withConnection(migrate:logger:isolation:_:)``, but tried again, with a doubling wait, until it
    /// succeeds: for `kappa run`, whose processors wait for PostgreSQL while the bridge keeps filling the log.
    /// `onFailure` hears each failure and the wait before the next attempt. Nil when the task was cancelled or
    /// the service group began a graceful shutdown first.
    public func withConnectionRetrying<Value>(
        migrate: Bool = true,
        backoff: Backoff = Backoff(),
        logger: Logger,
        onFailure: (any Error, Duration) -> Void,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Value
    ) async -> Value? {
        var delay = backoff.first
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                return try await withConnection(migrate: migrate, logger: logger, body)
            } catch {
                onFailure(error, delay)
                let wait = delay
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                } catch {
                    return nil
                }
                delay = min(delay * 2, backoff.longest)
            }
        }
        return nil
    }
}
