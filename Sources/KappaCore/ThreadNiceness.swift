#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Lowers the CPU priority of the calling thread, so work that can wait (the processors: the log keeps what
/// they have not read) gives way to work that cannot (the bridge taking messages from the broker).
///
/// On Linux the nice value belongs to a thread, not to the process (`setpriority(PRIO_PROCESS, 0, …)` changes
/// the caller only). A thread's nice can be raised without privileges but not lowered again, so it is called
/// only on threads that belong to the low-priority work for their whole life (`ProcessorExecutor`'s), never on
/// a cooperative-pool thread, which would stay lowered for everything else it runs.
public enum ThreadNiceness {
    /// Raises the calling thread's nice value to `nice` (0…19) if it is lower; 0 leaves it as it is.
    @inline(__always)
    public static func lowerCurrentThread(to nice: Int32) {
        #if os(Linux)
        guard nice > 0 else { return }
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0, current < nice else { return }
        _ = setpriority(which, 0, min(nice, 19))
        #endif
    }
}
