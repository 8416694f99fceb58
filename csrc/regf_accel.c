/* regf_accel.c: see regf_accel.h. The Python twin is regf/_accel/pure.py. */
#include "regf_accel.h"

#include <string.h>

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

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* Signed i32 (two's complement) widened to int64 without implementation-defined casts. */
static int64_t rd_i32(const uint8_t *p)
{
    uint32_t v = rd32(p);
    return v >= 0x80000000u ? (int64_t)v - (int64_t)0x100000000LL : (int64_t)v;
}

uint32_t regf_checksum(const uint8_t *bb)
{
    uint32_t c = 0;
    size_t i;
    for (i = 0; i < 508; i += 4)
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

/* ---- cell walking ---------------------------------------------------------------- */

static int scan_err(uint64_t offset, int kind)
{
    /* offset < REGF_MAX_HBINS_SIZE and a multiple of 8, so this fits in an int. */
    return -(int)(offset + (uint64_t)kind);
}

int regf_scan_cells(const uint8_t *bins, size_t hbins_size, uint8_t *bitmap_out)
{
    uint64_t total = (uint64_t)hbins_size;
    uint64_t off = 0;
    if (total > REGF_MAX_HBINS_SIZE)
        return -REGF_SCAN_TOO_BIG;
    memset(bitmap_out, 0, (size_t)((total + 63) / 64));
    while (off < total) {
        const uint8_t *hb = bins + off;
        uint64_t bin_size, end, c;
        if (total - off < 32 || memcmp(hb, "hbin", 4) != 0 || rd32(hb + 4) != off)
            return scan_err(off, REGF_SCAN_BAD_BIN);
        bin_size = rd32(hb + 8);
        if (bin_size == 0 || bin_size % 4096 != 0 || bin_size > total - off)
            return scan_err(off, REGF_SCAN_BAD_BIN);
        end = off + bin_size;
        /* c and end are multiples of 8, so c < end leaves at least 8 readable bytes. */
        for (c = off + 32; c < end;) {
            int64_t size = rd_i32(bins + c);
            uint64_t asize = (uint64_t)(size < 0 ? -size : size);
            if (asize == 0 || asize % 8 != 0 || asize > end - c)
                return scan_err(c, REGF_SCAN_BAD_CELL);
            if (size < 0) {
                uint64_t unit = c / 8;
                bitmap_out[unit >> 3] |= (uint8_t)(1u << (unit & 7));
            }
            c += asize;
        }
        off = end;
    }
    return 0;
}

/* Validate an allocated cell; on success store its data length and return 1. */
static int cell_ok(const uint8_t *bins, uint64_t total, uint32_t idx, uint64_t *data_len)
{
    int64_t size;
    uint64_t asize;
    if ((idx & 0x80000000u) != 0 || (idx & 7u) != 0 || (uint64_t)idx + 4 > total)
        return 0;
    size = rd_i32(bins + idx);
    if (size >= 0)
        return 0;
    asize = (uint64_t)(-size);
    if (asize < 4 || asize > total - idx)
        return 0;
    *data_len = asize - 4;
    return 1;
}

/* 0 = not a list, 1 = li, 2 = lf, 3 = lh, 4 = ri */
static int list_kind(const uint8_t *d)
{
    if (d[0] == 'l' && d[1] == 'i')
        return 1;
    if (d[0] == 'l' && d[1] == 'f')
        return 2;
    if (d[0] == 'l' && d[1] == 'h')
        return 3;
    if (d[0] == 'r' && d[1] == 'i')
        return 4;
    return 0;
}

static uint64_t elem_size(int kind)
{
    return (kind == 2 || kind == 3) ? 8 : 4;
}

/* Append the nk indexes of a leaf (li/lf/lh) whose data starts at d. */
static int emit_leaf(const uint8_t *bins, uint64_t total, const uint8_t *d, int kind,
                     uint32_t *out, size_t out_cap, uint64_t *count)
{
    uint64_t n = rd16(d + 2);
    uint64_t es = elem_size(kind);
    uint64_t limit = total / 8 < 0x7FFFFFFF ? total / 8 : 0x7FFFFFFF;
    uint64_t i, dl;
    for (i = 0; i < n; i++) {
        uint32_t nk = rd32(d + 4 + i * es);
        if (!cell_ok(bins, total, nk, &dl))
            return REGF_LEAF_E_NK_CELL;
        if (*count >= limit)
            return REGF_LEAF_E_TOO_MANY;
        if (*count < out_cap)
            out[*count] = nk;
        (*count)++;
    }
    return 0;
}

int regf_leaf_cells(const uint8_t *bins, size_t hbins_size, uint32_t list_cell,
                    uint32_t *out, size_t out_cap)
{
    uint64_t total = (uint64_t)hbins_size;
    uint64_t dl, count = 0, n, i;
    const uint8_t *d;
    int kind, rc;
    if (!cell_ok(bins, total, list_cell, &dl) || dl < 4)
        return REGF_LEAF_E_LIST_CELL;
    d = bins + list_cell + 4;
    kind = list_kind(d);
    if (kind == 0)
        return REGF_LEAF_E_LIST_SIG;
    n = rd16(d + 2);
    if (4 + n * elem_size(kind) > dl)
        return REGF_LEAF_E_LIST_COUNT;
    if (kind != 4) {
        rc = emit_leaf(bins, total, d, kind, out, out_cap, &count);
        if (rc < 0)
            return rc;
    } else {
        for (i = 0; i < n; i++) {
            uint32_t leaf = rd32(d + 4 + i * 4);
            uint64_t ldl;
            const uint8_t *ld;
            int lkind;
            if (!cell_ok(bins, total, leaf, &ldl) || ldl < 4)
                return REGF_LEAF_E_LEAF_CELL;
            ld = bins + leaf + 4;
            lkind = list_kind(ld);
            if (lkind == 4)
                return REGF_LEAF_E_NESTED_RI;
            if (lkind == 0)
                return REGF_LEAF_E_LEAF_SIG;
            if (4 + (uint64_t)rd16(ld + 2) * elem_size(lkind) > ldl)
                return REGF_LEAF_E_LEAF_COUNT;
            rc = emit_leaf(bins, total, ld, lkind, out, out_cap, &count);
            if (rc < 0)
                return rc;
        }
    }
    return (int)count;
}

/* ---- recovery -------------------------------------------------------------------- */

uint64_t regf_bin_chain_end(const uint8_t *bins, size_t hbins_size, size_t start)
{
    uint64_t total = (uint64_t)hbins_size;
    uint64_t off = (uint64_t)start;
    while (off < total) {
        const uint8_t *hb = bins + off;
        uint64_t size;
        if (total - off < 32 || memcmp(hb, "hbin", 4) != 0 || rd32(hb + 4) != off)
            return off;
        size = rd32(hb + 8);
        if (size < 4096 || size % 4096 != 0 || size > total - off)
            return off;
        off += size;
    }
    return total;
}
