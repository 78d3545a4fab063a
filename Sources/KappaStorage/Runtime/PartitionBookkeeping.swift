import KappaPostgres
import Synchronization

/// What ``RollupPartitions`` and ``DayPartitions`` remember between checkpoints: the partitions seen in the
/// catalog, and when retention last ran.
///
/// Only partitions seen in the catalog are remembered, never ones created: a checkpoint that creates a partition
/// may roll back, and a remembered partition that does not exist would make the checkpoint's writes fail. So a
/// new partition costs one more catalog read at the next checkpoint that needs it.
final class PartitionBookkeeping<Key: Hashable & Comparable & Sendable>: Sendable {
    private struct State {
        var known: Set<Key> = []
        var lastRetention: ContinuousClock.Instant?
    }

    /// How often retention looks for expired partitions.
    let retentionInterval: Duration
    private let state = Mutex(State())

    init(retentionInterval: Duration) {
        self.retentionInterval = retentionInterval
    }

    /// The partitions of `needed` to create, in key order, after taking `table`'s advisory lock for the rest of the
    /// transaction (another gateway, or a replay, may be creating the same ones: same names, so they are created
    /// IF NOT EXISTS once it is this one's turn). Empty, and no lock, when all are known or in the catalog
    /// (`listing` reads it, only when some are not known).
    func toCreate(
        _ needed: Set<Key>, table: String, connection: PostgresConnection, listing: () async throws -> Set<Key>
    ) async throws -> [Key] {
        let missing = state.withLock { state in needed.subtracting(state.known) }
        guard !missing.isEmpty else { return [] }
        let existing = try await listing()
        state.withLock { $0.known.formUnion(existing) }
        let toCreate = missing.subtracting(existing)
        guard !toCreate.isEmpty else { return [] }
        try await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", [.text(table)])
        return toCreate.sorted()
    }

    /// Whether retention is due (at most once per ``retentionInterval``); if so, it counts as run now.
    func retentionDue() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            if let last = state.lastRetention, now - last < retentionInterval { return false }
            state.lastRetention = now
            return true
        }
    }

    /// A partition dropped.
    func forget(_ key: Key) {
        state.withLock { _ = $0.known.remove(key) }
    }
}
