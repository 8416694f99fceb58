/*
 * Little-endian field access shared by every C file of the accelerator (internal: not
 * part of the cdef). Fields are read and written byte by byte, so the code is correct on
 * any host byte order and never performs an unaligned load; compilers turn these into
 * single loads where that is allowed. HAS_SIG compares a record's signature with the one
 * csrc/layout.h declares for it.
 */
#ifndef REGF_BYTES_H
#define REGF_BYTES_H

#include <stdint.h>
#include <string.h>

#include "layout.h"

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* Signed i32 (two's complement) widened to int64 without implementation-defined casts. */
static inline int64_t rd_i32(const uint8_t *p)
{
    uint32_t v = rd32(p);
    return v >= 0x80000000u ? (int64_t)v - (int64_t)0x100000000LL : (int64_t)v;
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* Record REC (NK, VK, LH, HBIN, ...) starts at p: its signature, at offset 0 of every
 * record, equals REGF_<REC>_SIG. */
#define HAS_SIG(p, REC) (memcmp((p), REGF_##REC##_SIG, sizeof REGF_##REC##_SIG - 1) == 0)
/* Write REC's signature at p. */
#define PUT_SIG(p, REC) memcpy((p), REGF_##REC##_SIG, sizeof REGF_##REC##_SIG - 1)

#endif /* REGF_BYTES_H */
