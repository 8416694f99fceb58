/*
 * Hashing and checksums: the Windows upcase table and what is computed through it (the
 * lh name hash, the subkey sort key), the base-block checksum and Marvin32 (HvLE log
 * entries), and the bulk page copy of log recovery. See regf_accel.h for each contract;
 * the Python twin is regf/_accel/pure.py.
 */
#include "regf_accel.h"

#include "bytes.h"
#include "upcase_table.h"

static uint16_t upcase_tab[65536];
static volatile int upcase_ready = 0;

void regf_init(void)
{
    size_t i;
    if (upcase_ready)
        return;
    for (i = 0; i < 65536; i++)
        upcase_tab[i] = (uint16_t)i;
    for (i = 0; i < REGF_UPCASE_PAIRS; i++)
        upcase_tab[regf_upcase_pairs[i][0]] = (uint16_t)regf_upcase_pairs[i][1];
    upcase_ready = 1;
}

uint32_t regf_checksum(const uint8_t *bb)
{
    uint32_t c = 0;
    size_t i;
    /* Every dword before the checksum field itself (fmt §1). */
    for (i = 0; i < REGF_BASE_CHECKSUM; i += REGF_BASE_CHECKSUM_BYTES)
        c ^= rd32(bb + i);
    if (c == 0xFFFFFFFFu)
        return 0xFFFFFFFEu;
    if (c == 0)
        return 1;
    return c;
}

#define ROTL32(x, r) ((uint32_t)(((x) << (r)) | ((x) >> (32 - (r)))))

#define MARVIN_MIX(s0, s1)          \
    do {                            \
        s1 ^= s0;                   \
        s0 = ROTL32(s0, 20);        \
        s0 += s1;                   \
        s1 = ROTL32(s1, 9);         \
        s1 ^= s0;                   \
        s0 = ROTL32(s0, 27);        \
        s0 += s1;                   \
        s1 = ROTL32(s1, 19);        \
    } while (0)

uint64_t regf_marvin32(const uint8_t *p, size_t n, uint64_t seed)
{
    uint32_t s0 = (uint32_t)(seed & 0xFFFFFFFFu);
    uint32_t s1 = (uint32_t)(seed >> 32);
    uint32_t t;
    size_t i;
    size_t full = n & ~(size_t)3;
    for (i = 0; i < full; i += 4) {
        s0 += rd32(p + i);
        MARVIN_MIX(s0, s1);
    }
    switch (n & 3) {
    case 3:
        t = 0x80000000u | ((uint32_t)p[i + 2] << 16) | ((uint32_t)p[i + 1] << 8) | p[i];
        break;
    case 2:
        t = 0x800000u | ((uint32_t)p[i + 1] << 8) | p[i];
        break;
    case 1:
        t = 0x8000u | p[i];
        break;
    default:
        t = 0x80u;
        break;
    }
    s0 += t;
    MARVIN_MIX(s0, s1);
    MARVIN_MIX(s0, s1);
    return ((uint64_t)s1 << 32) | s0;
}

uint16_t regf_upcase_unit(uint16_t u)
{
    if (!upcase_ready)
        regf_init();
    return upcase_tab[u];
}

const uint16_t *regf_upcase_table(void)
{
    if (!upcase_ready)
        regf_init();
    return upcase_tab;
}

uint32_t regf_name_hash(const uint16_t *units, size_t n)
{
    uint32_t h = 0;
    size_t i;
    if (!upcase_ready)
        regf_init();
    for (i = 0; i < n; i++)
        h = h * 37u + upcase_tab[units[i]];
    return h;
}

void regf_upcase_units(const uint16_t *in, uint16_t *out, size_t n)
{
    size_t i;
    if (!upcase_ready)
        regf_init();
    for (i = 0; i < n; i++)
        out[i] = upcase_tab[in[i]];
}

void regf_sort_key(const uint16_t *in, uint8_t *out, size_t n)
{
    size_t i;
    if (!upcase_ready)
        regf_init();
    for (i = 0; i < n; i++) {
        uint16_t u = upcase_tab[in[i]];
        out[2 * i] = (uint8_t)(u >> 8);
        out[2 * i + 1] = (uint8_t)(u & 0xFF);
    }
}

/* Span checks are written as "len > limit - off" so that no sum can overflow. */
static int span_ok(uint64_t off, uint64_t len, size_t limit)
{
    return off <= limit && len <= limit - off;
}

int64_t regf_marvin32_spans(const uint8_t *buf, size_t buf_len, const uint64_t *spans,
                            size_t n, uint64_t seed, uint64_t *out)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!span_ok(spans[2 * i], spans[2 * i + 1], buf_len))
            return -(int64_t)(i + 1);
    for (i = 0; i < n; i++)
        out[i] = regf_marvin32(buf + spans[2 * i], (size_t)spans[2 * i + 1], seed);
    return 0;
}

int64_t regf_copy_runs(uint8_t *dst, size_t dst_len, const uint8_t *src, size_t src_len,
                       const uint64_t *runs, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        const uint64_t *r = runs + 3 * i;
        if (!span_ok(r[0], r[2], dst_len) || !span_ok(r[1], r[2], src_len))
            return -(int64_t)(i + 1);
    }
    for (i = 0; i < n; i++) {
        const uint64_t *r = runs + 3 * i;
        /* memmove: dst and src are different buffers in recovery, but nothing here
         * needs them to be. */
        memmove(dst + r[0], src + r[1], (size_t)r[2]);
    }
    return 0;
}
