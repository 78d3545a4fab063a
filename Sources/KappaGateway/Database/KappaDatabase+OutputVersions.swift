import KappaPostgres
import Logging
import KappaStorage

/// The processors' output versions (`kappa versions`, `kappa replay`).
extension KappaDatabase {
    /// Connects, migrates, and runs `body` with the versions of this schema; closes before returning.
    public func withOutputVersions<Value>(
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (OutputVersions, PostgresConnection) async throws -> Value
    ) async throws -> Value {
        let versions = OutputVersions(schema: schemaIdentifier)
        return try await withConnection(logger: logger) { connection in try await body(versions, connection) }
    }

    /// Whether `processor`'s output `version` has caught up with the log (caught up, or since activated or
    /// retired); false when the version or its state cannot be read.
    public func hasCaughtUp(processor: String, version: String, logger: Logger) async throws -> Bool {
        let versions = OutputVersions(schema: schemaIdentifier)
        let state = try await withConnection(migrate: false, logger: logger) { connection in
            try? await versions.version(connection, processor: processor, version: version)?.state
        }
        return state == .caughtUp || state == .active || state == .retired
    }
}
