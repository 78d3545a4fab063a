// The CPU's CRC-32C instruction, which Swift cannot reach without a C target. Compiled for the baseline CPU:
// the instruction is enabled per function and used only after the runtime check says the CPU has it.
#include "CCRC32C.h"

#include <string.h>

#if defined(__x86_64__)

int kappa_crc32c_hardware_available(void) {
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2")))
uint32_t kappa_crc32c_hardware_update(uint32_t crc, const void *data, size_t length) {
    const uint8_t *bytes = data;
    uint64_t wide = crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        wide = __builtin_ia32_crc32di(wide, word);
        bytes += 8;
        length -= 8;
    }
    uint32_t narrow = (uint32_t)wide;
    while (length > 0) {
        narrow = __builtin_ia32_crc32qi(narrow, *bytes);
        bytes += 1;
        length -= 1;
    }
    return narrow;
}

#elif defined(__aarch64__) && defined(__linux__)

#include <sys/auxv.h>
#include <asm/hwcap.h>

int kappa_crc32c_hardware_available(void) {
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}

__attribute__((target("crc")))
uint32_t kappa_crc32c_hardware_update(uint32_t crc, const void *data, size_t length) {
    const uint8_t *bytes = data;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc = __builtin_arm_crc32cd(crc, word);
        bytes += 8;
        length -= 8;
    }
    while (length > 0) {
        crc = __builtin_arm_crc32cb(crc, *bytes);
        bytes += 1;
        length -= 1;
    }
    return crc;
}

#else

int kappa_crc32c_hardware_available(void) {
    return 0;
}

uint32_t kappa_crc32c_hardware_update(uint32_t crc, const void *data, size_t length) {
    (void)data;
    (void)length;
    return crc;
}

#endif
