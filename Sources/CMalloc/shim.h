#ifndef C_MALLOC_SHIM_H
#define C_MALLOC_SHIM_H

/* glibc's allocator statistics and trimming (mallinfo2, malloc_trim), which the Glibc module does not import. */
#if defined(__linux__)
#include <malloc.h>
#endif

/* Gives free memory inside the heap back to the system; nothing where the allocator is not glibc's. */
static inline int cmalloc_trim(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

/* Caps the arenas glibc makes for threads that contend for one (default: eight per core); nothing elsewhere. */
static inline int cmalloc_limit_arenas(int count) {
#if defined(__GLIBC__)
    return mallopt(M_ARENA_MAX, count);
#else
    (void)count;
    return 0;
#endif
}

/* Fixes the size from which a block gets a mapping of its own, and the free space at the top of a heap kept
   before it is given back: fixed, glibc no longer raises them (up to 32 and 64 MiB) each time a large block is
   freed. Nothing elsewhere. */
static inline int cmalloc_fix_thresholds(int mmapThreshold, int trimThreshold) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, mmapThreshold) && mallopt(M_TRIM_THRESHOLD, trimThreshold);
#else
    (void)mmapThreshold;
    (void)trimThreshold;
    return 0;
#endif
}

/* Whether glibc gave the block at `pointer` (from malloc) a mapping of its own: the IS_MMAPPED bit of the size
   word before it. For tests of the thresholds above; false elsewhere. */
static inline int cmalloc_is_mapped_on_its_own(const void *pointer) {
#if defined(__GLIBC__)
    return (int)((((const size_t *)pointer)[-1] & 2) != 0);
#else
    (void)pointer;
    return 0;
#endif
}

#endif
