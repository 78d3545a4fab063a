import KappaCore

/// A partition's high watermark and the readers waiting for it to pass an offset.
///
/// Appends publish; synchronous waiters sleep on a condition variable, async waiters are continuations.
/// Nothing polls.
package final class AppendSignal: Sendable {
    private struct Waiter {
        var offset: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var highWatermark: Int64
        var asyncWaiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
        var sleepingThreads = 0
        var isClosed = false
    }

    private let lock: ConditionLock<State>

    package init(highWatermark: Int64) {
        lock = ConditionLock(State(highWatermark: highWatermark))
    }

    package func publish(highWatermark: Int64) {
        let (ready, wakeThreads): ([Waiter], Bool) = lock.withLock { state in
            guard highWatermark > state.highWatermark else { return ([], false) }
            state.highWatermark = highWatermark
            var ready: [Waiter] = []
            if !state.asyncWaiters.isEmpty {
                for (id, waiter) in state.asyncWaiters where waiter.offset < highWatermark {
                    ready.append(waiter)
                    state.asyncWaiters[id] = nil
                }
            }
            return (ready, state.sleepingThreads > 0)
        }
        if wakeThreads { lock.broadcast() }
        for waiter in ready { waiter.continuation.resume() }
    }

    package func close() {
        let waiters = lock.withLock { state in
            state.isClosed = true
            defer { state.asyncWaiters = [:] }
            return Array(state.asyncWaiters.values)
        }
        lock.broadcast()
        for waiter in waiters { waiter.continuation.resume(throwing: LogError(code: .closed, message: "the log was closed")) }
    }

    package func wait(for offset: Int64, timeout: Duration) -> Bool {
        let deadline = MonotonicClock.nanoseconds() &+ timeout.nanoseconds
        var registered = false
        let result = lock.wait(untilNanoseconds: deadline) { state -> Bool? in
            if state.highWatermark > offset || state.isClosed {
                if registered { state.sleepingThreads -= 1 }
                return state.highWatermark > offset
            }
            if !registered {
                registered = true
                state.sleepingThreads += 1
            }
            return nil
        }
        if result == nil, registered { lock.withLock { $0.sleepingThreads -= 1 } }
        return result ?? false
    }

    package func wait(for offset: Int64) async throws {
        let id = lock.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = lock.withLock { state in
                    if state.highWatermark > offset { return .success(()) }
                    if state.isClosed { return .failure(LogError(code: .closed, message: "the log was closed")) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.asyncWaiters[id] = Waiter(offset: offset, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = lock.withLock { state in state.asyncWaiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
