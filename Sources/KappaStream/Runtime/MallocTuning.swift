import CMalloc
import Foundation

/// glibc's allocator, tuned for a gateway holding a large fleet: fewer arenas, large blocks mapped on their own,
/// and the memory a large checkpoint freed given back to the system.
///
/// glibc keeps freed memory for reuse: blocks below its mmap threshold stay in the heap, and a free range in the
/// middle of it is only returned by `malloc_trim`. By default that threshold rises, up to 32 MiB, each time a
/// larger mapped block is freed, and the free space it keeps at the top of a heap rises with it (to twice that):
/// a gateway whose per-series arrays grow by doubling, and whose checkpoints build and drop batches of tens of
/// megabytes, soon has every block below 32 MiB in its heaps, and the ranges each growth or checkpoint freed stay
/// resident (ScaleBenchmark 1M: 95 MB free inside the heaps beside 515 MB in use). ``configureForLargeFleet()``
/// fixes both thresholds, which turns the rising off. A checkpoint of a million series' anomaly snapshots
/// (hundreds of megabytes, encoded, then copied by libpq) still leaves smaller blocks behind; trimming walks the
/// free blocks of every arena, so it is done only after checkpoints that freed at least ``threshold`` bytes, on
/// the processor's own thread.
public enum MallocTuning {
    static let threshold = 32 << 20
    /// Blocks from this size up get a mapping of their own, given back when freed; and free space beyond this at
    /// the top of a heap is given back at once. glibc's initial values, kept rather than raised.
    /// (ScaleBenchmark 1M, glibc 2.36: settled RSS per series beyond the base 613 B with the rising thresholds,
    /// 525 B with these.)
    static let mappedFrom = 128 << 10
    static let keptAtTop = 128 << 10

    /// Call before threads start allocating.
    public static func configureForLargeFleet() {
        limitArenasToCores()
        fixThresholds()
    }

    /// At most one malloc arena per core, for a process whose threads (the processors', the bridge's, the
    /// pool's) each take their own by default, up to eight per core: each arena then keeps its own freed
    /// blocks, and `kappa run`'s RSS per series at 100 k series was a quarter above what two arenas give
    /// (ScaleBenchmark 100k, MALLOC_ARENA_MAX=2: 2,621 B against 3,512 B).
    static func limitArenasToCores() {
        _ = cmalloc_limit_arenas(Int32(clamping: max(1, ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// Fixes the mmap and trim thresholds at ``mappedFrom`` and ``keptAtTop``; whether glibc took them.
    @discardableResult
    static func fixThresholds() -> Bool {
        cmalloc_fix_thresholds(Int32(mappedFrom), Int32(keptAtTop)) != 0
    }

    /// Trims when `freedBytes` is at least ``threshold``; whether it did.
    @discardableResult
    static func afterFreeing(_ freedBytes: Int) -> Bool {
        guard freedBytes >= threshold else { return false }
        _ = cmalloc_trim()
        return true
    }

    /// Whether glibc gave the block at `pointer` (from `malloc`) a mapping of its own (false elsewhere): how tests
    /// see that the thresholds hold.
    static func isMappedOnItsOwn(_ pointer: UnsafeRawPointer) -> Bool {
        cmalloc_is_mapped_on_its_own(pointer) != 0
    }
}
