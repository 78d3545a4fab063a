import CMalloc

/// Gives the memory a large checkpoint freed back to the system.
///
/// glibc keeps freed memory for reuse: blocks below its mmap threshold (which rises, up to 32 MiB, each time a
/// larger mmapped block is freed) stay in the heap, and a free range in the middle of it is only returned by
/// `malloc_trim`. A checkpoint of a million series' anomaly snapshots (hundreds of megabytes, encoded, then
/// copied by libpq) leaves such ranges behind, resident until the next one. Trimming walks the free blocks of
/// every arena, so it is done only after checkpoints that freed at least ``threshold`` bytes; it runs on the
/// processor's own thread.
enum AllocatorTrim {
    static let threshold = 32 << 20

    /// Trims when `freedBytes` is at least ``threshold``; whether it did.
    @discardableResult
    static func afterFreeing(_ freedBytes: Int) -> Bool {
        guard freedBytes >= threshold else { return false }
        _ = cmalloc_trim()
        return true
    }
}
