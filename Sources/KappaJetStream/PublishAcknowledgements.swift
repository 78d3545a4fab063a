import KappaLog

/// Which asynchronous publish an acknowledgement belongs to: its subject (the partition), message id (the
/// stream sequence it was meant for) and the append attempt that sent it.
///
/// The attempt matters because an append that gives up forgets its publishes while their answers may still
/// be on the way: a retry publishes at the same sequences, and a late answer to the abandoned publish (say,
/// "stored at 11" for a record the retry does not carry) must not settle the retry's publish at 11.
struct PublishKey: Hashable, Sendable {
    var subject: String
    var messageID: String
    var attempt: UInt64

    /// The header that carries `attempt` to the acknowledgement callback (short: JetStream stores it with
    /// every record).
    static let attemptHeader = "Kappa-Try"
}

/// What JetStream answered to one publish.
enum PublishOutcome: Sendable {
    case stored(sequence: UInt64, duplicate: Bool)
    /// Refused or not answered: `status` is the client's, `errorCode` JetStream's (0 when none).
    case failed(status: String, errorCode: Int, text: String)
}

/// The publishes of the append in progress, settled by libnats' acknowledgement callback.
///
/// The appending thread registers each publish before sending it, waits for room in the window, then waits
/// for every answer or a deadline. Answers for publishes no longer awaited (an append that gave up on them)
/// are dropped: the appender learns their fate from the stream's last sequence instead.
final class PublishAcknowledgements: Sendable {
    private struct State {
        var awaited: Set<PublishKey> = []
        var outcomes: [PublishKey: PublishOutcome] = [:]
        var attempts: UInt64 = 0
    }

    private let lock = ConditionLock(State())

    /// A number for the next append attempt's publishes, never given before in this process.
    func nextAttempt() -> UInt64 {
        lock.withLock { state in
            state.attempts += 1
            return state.attempts
        }
    }

    func expect(_ key: PublishKey) {
        lock.withLock { state in _ = state.awaited.insert(key) }
    }

    /// Called on libnats' thread; only records and wakes the appender.
    func settle(_ key: PublishKey, _ outcome: PublishOutcome) {
        let wake = lock.withLock { state -> Bool in
            guard state.awaited.remove(key) != nil else { return false }
            state.outcomes[key] = outcome
            return true
        }
        if wake { lock.broadcast() }
    }

    /// Blocks until fewer than `window` publishes are unanswered; false if `deadline` (monotonic ns) passed first.
    func waitForRoom(window: Int, deadline: Int64) -> Bool {
        lock.wait(untilNanoseconds: deadline) { state in state.awaited.count < window ? true : nil } ?? false
    }

    /// Blocks until every publish is answered or `deadline` passes, then hands over the answers and forgets
    /// the unanswered publishes (absent from the result).
    func collect(deadline: Int64) -> [PublishKey: PublishOutcome] {
        _ = lock.wait(untilNanoseconds: deadline) { state in state.awaited.isEmpty ? true : nil }
        return lock.withLock { state in
            defer {
                state.awaited.removeAll(keepingCapacity: true)
                state.outcomes.removeAll(keepingCapacity: true)
            }
            return state.outcomes
        }
    }
}
