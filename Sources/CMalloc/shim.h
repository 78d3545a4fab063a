#ifndef C_MALLOC_SHIM_H
#define C_MALLOC_SHIM_H

/* glibc's allocator statistics and trimming (mallinfo2, malloc_trim), which the Glibc module does not import. */
#include <malloc.h>

#endif
