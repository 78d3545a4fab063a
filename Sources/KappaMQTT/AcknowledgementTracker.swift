/// Matches broker acknowledgements (PUBACK/PUBCOMP, SUBACK) to the callers waiting for them, by message id.
///
/// libmosquitto assigns the message id inside `mosquitto_publish`, and the acknowledgement can arrive on the
/// network thread before the publishing thread has registered to wait for it. Both orders are handled: an
/// early acknowledgement is parked until its publisher looks, and a publisher that will not wait says so, so
/// that nothing is parked forever and memory stays bounded by the 65 535 possible ids.
struct AcknowledgementTracker<Waiter> {
    enum Outcome {
        /// The acknowledgement came first: the caller is done.
        case alreadyAcknowledged(AcknowledgementResult)
        /// The caller's waiter is registered and will be handed back by `acknowledged`.
        case registered
    }

    private var early: [Int32: AcknowledgementResult] = [:]
    private var waiters: [Int32: Waiter] = [:]
    private var unwatched: Set<Int32> = []

    var waitingCount: Int { waiters.count }

    /// A caller that will wait for message `id`.
    mutating func wait(for id: Int32, with waiter: Waiter) -> Outcome {
        if let result = early.removeValue(forKey: id) {
            return .alreadyAcknowledged(result)
        }
        waiters[id] = waiter
        return .registered
    }

    /// A caller that will not wait for message `id` (fire and forget).
    mutating func ignore(_ id: Int32) {
        if early.removeValue(forKey: id) == nil {
            unwatched.insert(id)
        }
    }

    /// The broker acknowledged `id`; returns the waiter to resume, if one is registered.
    mutating func acknowledged(_ id: Int32, _ result: AcknowledgementResult) -> Waiter? {
        if unwatched.remove(id) != nil {
            return nil
        }
        if let waiter = waiters.removeValue(forKey: id) {
            return waiter
        }
        early[id] = result
        return nil
    }

    /// Every registered waiter, removed (the client is shutting down).
    mutating func removeAllWaiters() -> [Waiter] {
        let all = Array(waiters.values)
        waiters.removeAll()
        early.removeAll()
        unwatched.removeAll()
        return all
    }
}

/// What the broker said about a message or subscription.
enum AcknowledgementResult: Sendable, Equatable {
    case accepted
    /// A reason code of 0x80 or above (MQTT 5), or a refused subscription (0x80 in MQTT 3.1.1).
    case refused(reasonCode: Int32)
}
