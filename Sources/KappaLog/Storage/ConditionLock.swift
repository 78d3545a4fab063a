#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KappaCore

/// A mutex with a condition variable, for threads that block (group commit, synchronous readers, the flusher).
///
/// `Synchronization.Mutex` has no condition variable, hence pthreads.
package final class ConditionLock<State>: @unchecked Sendable {
    // @unchecked: `state` is only touched with `mutex` held, and the pthread objects live at stable heap addresses.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var state: State

    package init(_ state: State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    package func withLock<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Waits, with the lock held around `body`, until `body` returns non-nil or `deadline` (CLOCK_MONOTONIC ns) passes.
    package func wait<Result>(untilNanoseconds deadline: Int64? = nil, _ body: (inout State) -> Result?) -> Result? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let result = body(&state) { return result }
            if let deadline {
                if MonotonicClock.nanoseconds() >= deadline { return nil }
                var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &spec)
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
    }

    package func broadcast() {
        pthread_cond_broadcast(condition)
    }
}

package enum MonotonicClock {
    package static func nanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}

