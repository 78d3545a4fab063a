import Synchronization

/// Group commit for one partition: how far its bytes are synced, and who is syncing now.
///
/// Appended bytes are counted by a per-partition ticket (bytes appended since open). A caller needing its
/// ticket durable either finds it already covered, waits for the sync in flight, or leads the next sync,
/// which covers everything appended until it starts: N concurrent appenders cost about two fsyncs, not N.
final class DurabilityTracker: Sendable {
    private struct State {
        var durableTicket: Int64 = 0
        var isSyncing = false
    }

    private let lock = ConditionLock(State())
    private let durable = Atomic<Int64>(0)

    /// Bytes known synced (a lower bound, read without the lock).
    var durableTicket: Int64 { durable.load(ordering: .relaxed) }

    /// Returns once everything up to `ticket` is synced. `target` gives the active file and its current ticket.
    func makeDurable(upTo ticket: Int64, target: () throws(LogError) -> (LogFile, Int64)) throws(LogError) {
        while true {
            let lead = lock.wait { state -> Bool? in
                if state.durableTicket >= ticket { return false }
                if !state.isSyncing {
                    state.isSyncing = true
                    return true
                }
                return nil
            }
            guard lead == true else { return }
            var synced: Int64?
            defer {
                lock.withLock { state in
                    state.isSyncing = false
                    if let synced, synced > state.durableTicket {
                        state.durableTicket = synced
                        durable.store(synced, ordering: .relaxed)
                    }
                }
                lock.broadcast()
            }
            let (file, targetTicket) = try target()
            try file.sync()
            synced = targetTicket
        }
    }

    /// Records that everything up to `ticket` is synced by other means (a segment roll syncs the old file).
    func markDurable(upTo ticket: Int64) {
        lock.withLock { state in
            if ticket > state.durableTicket {
                state.durableTicket = ticket
                durable.store(ticket, ordering: .relaxed)
            }
        }
        lock.broadcast()
    }
}
