#ifndef KESTREL_CSHA256_H
#define KESTREL_CSHA256_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this processor has the SHA extensions (SHA-NI) that `kestrel_sha256_blocks_ni` needs
/// (checked at run time with __builtin_cpu_supports; the package builds for baseline x86-64).
int kestrel_sha256_ni_available(void);

/// SHA-256 compression of `blocks` 64-byte blocks at `data` into `state` (8 words, FIPS 180-4
/// order a..h), with the SHA-NI instructions. Call only when kestrel_sha256_ni_available().
void kestrel_sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
