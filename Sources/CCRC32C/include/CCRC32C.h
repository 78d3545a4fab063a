#ifndef KAPPA_CCRC32C_H
#define KAPPA_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction (x86-64 SSE 4.2, AArch64 CRC32) the function below can use.
int kappa_crc32c_hardware_available(void);

/// Continues a CRC-32C over `length` bytes with the CPU's instruction. `crc` is the running value as it is
/// inside the computation (already inverted), so pieces chain without re-inverting. Only call it when
/// `kappa_crc32c_hardware_available()` returned non-zero.
uint32_t kappa_crc32c_hardware_update(uint32_t crc, const void *data, size_t length);

#endif
