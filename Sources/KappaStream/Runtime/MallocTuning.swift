import CMalloc
import Foundation

/// glibc's allocator, tuned for a gateway holding a large fleet: fewer arenas, and the memory a large checkpoint
/// freed given back to the system.
///
/// glibc keeps freed memory for reuse: blocks below its mmap threshold (which rises, up to 32 MiB, each time a
/// larger mmapped block is freed) stay in the heap, and a free range in the middle of it is only returned by
/// `malloc_trim`. A checkpoint of a million series' anomaly snapshots (hundreds of megabytes, encoded, then
/// copied by libpq) leaves such ranges behind, resident until the next one. Trimming walks the free blocks of
/// every arena, so it is done only after checkpoints that freed at least ``threshold`` bytes; it runs on the
/// processor's own thread.
public enum MallocTuning {
    static let threshold = 32 << 20

    /// At most one malloc arena per core, for a process whose threads (the processors', the bridge's, the
    /// pool's) each take their own by default, up to eight per core: each arena then keeps its own freed
    /// blocks, and `kappa run`'s RSS per series at 100 k series was a quarter above what two arenas give
    /// (ScaleBenchmark 100k, MALLOC_ARENA_MAX=2: 2,621 B against 3,512 B). Call before threads start allocating.
    public static func limitArenasToCores() {
        _ = cmalloc_limit_arenas(Int32(clamping: max(1, ProcessInfo.processInfo.activeProcessorCount)))
    }

    /// Trims when `freedBytes` is at least ``threshold``; whether it did.
    @discardableResult
    static func afterFreeing(_ freedBytes: Int) -> Bool {
        guard freedBytes >= threshold else { return false }
        _ = cmalloc_trim()
        return true
    }
}
