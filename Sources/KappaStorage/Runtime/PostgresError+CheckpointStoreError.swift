import KappaPostgres
public import KappaStream

/// The runner retries what the connection or the server caused, and sets aside the records behind what the
/// data caused.
extension PostgresError: CheckpointStoreError {
    public var isTransient: Bool { isRetryable || code == .closed }

    /// A data exception (class 22), an integrity constraint violation (23) or a program limit such as an index
    /// row too large (54): retrying the same records fails the same way; leaving them out does not.
    public var dependsOnData: Bool {
        guard let sqlState, !isRetryable else { return false }
        return ["22", "23", "54"].contains(sqlState.class)
    }

    public var storeCode: String? { sqlState?.code }
}
