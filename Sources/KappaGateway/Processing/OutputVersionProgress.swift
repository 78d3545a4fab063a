import KappaPostgres
import Logging

extension KappaDatabase {
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
