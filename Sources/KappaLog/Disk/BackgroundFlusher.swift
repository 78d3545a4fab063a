import KappaCore

/// The dedicated thread that syncs partitions on the interval policy and applies retention periodically.
final class BackgroundFlusher: Sendable {
    private struct State {
        var isStopped = false
        var flushRequested = false
    }

    private let lock = ConditionLock(State())
    private let thread: ConditionLock<BackgroundThread?> = ConditionLock(nil)

    /// `flush` runs every `flushInterval` (nil: never) and on ``requestFlush()``; `periodic` every `periodicInterval`.
    func start(
        flushInterval: Duration?,
        periodicInterval: Duration,
        flush: @escaping @Sendable () -> Void,
        periodic: @escaping @Sendable () -> Void
    ) throws(LogError) {
        let started = try BackgroundThread.start { [self] in
            var nextPeriodic = MonotonicClock.nanoseconds() + periodicInterval.nanoseconds
            while true {
                let now = MonotonicClock.nanoseconds()
                let nextFlush = flushInterval.map { now + $0.nanoseconds } ?? .max
                let deadline = min(nextFlush, nextPeriodic)
                let stop = lock.wait(untilNanoseconds: deadline) { state -> Bool? in
                    if state.isStopped { return true }
                    if state.flushRequested {
                        state.flushRequested = false
                        return false
                    }
                    return nil
                } ?? false
                if stop { return }
                if flushInterval != nil { flush() }
                if MonotonicClock.nanoseconds() >= nextPeriodic {
                    periodic()
                    nextPeriodic = MonotonicClock.nanoseconds() + periodicInterval.nanoseconds
                }
            }
        }
        thread.withLock { $0 = started }
    }

    func requestFlush() {
        let wasRequested = lock.withLock { state in
            defer { state.flushRequested = true }
            return state.flushRequested
        }
        if !wasRequested { lock.broadcast() }
    }

    func stop() {
        lock.withLock { $0.isStopped = true }
        lock.broadcast()
        let running = thread.withLock { state in
            defer { state = nil }
            return state
        }
        running?.join()
    }
}
