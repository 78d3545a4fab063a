import Synchronization

/// Refuses appends while free space is below the floor, without a `statvfs` per append.
///
/// Free space is measured at most every `refreshNanoseconds` or after `refreshBytes` appended, and estimated
/// in between by subtracting what was appended since.
final class DiskSpaceGuard: Sendable {
    private struct State {
        var measuredAt: Int64?
        var measuredFree: Int64 = 0
        var appendedSince: Int64 = 0
    }

    let path: String
    private let floor: Atomic<Int64>
    private let state = Mutex(State())
    private let refreshNanoseconds: Int64 = 100_000_000
    private let refreshBytes: Int64 = 4 << 20

    init(path: String, floorBytes: Int64) {
        self.path = path
        self.floor = Atomic(floorBytes)
    }

    /// The floor in force; an operator may change it while the log runs.
    var floorBytes: Int64 {
        get { floor.load(ordering: .relaxed) }
        set { floor.store(newValue, ordering: .relaxed) }
    }

    /// Throws ``LogError/Code/belowDiskFloor`` if appending `bytes` would go below the floor.
    func reserve(_ bytes: Int) throws(LogError) {
        let floorBytes = self.floorBytes
        guard floorBytes > 0 else { return }
        try state.withLock { (state) throws(LogError) in
            let now = MonotonicClock.nanoseconds()
            var estimate = state.measuredFree - state.appendedSince - Int64(bytes)
            if state.measuredAt.map({ now - $0 > refreshNanoseconds }) ?? true || state.appendedSince > refreshBytes || estimate < floorBytes {
                state.measuredFree = try FileSystem.freeBytes(at: path)
                state.measuredAt = now
                state.appendedSince = 0
                estimate = state.measuredFree - Int64(bytes)
            }
            guard estimate >= floorBytes else {
                var error = LogError(code: .belowDiskFloor, message: "free disk space is below the configured floor; append refused")
                error.path = path
                error.freeBytes = state.measuredFree
                error.floorBytes = floorBytes
                throw error
            }
            state.appendedSince += Int64(bytes)
        }
    }
}
