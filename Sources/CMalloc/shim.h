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

#endif
