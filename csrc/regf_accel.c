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

/* ---- tree walk (see regf_accel.h: regf_walk) -------------------------------------- */

typedef struct {
    const uint8_t *bins;
    uint64_t total;
    const uint8_t *cellmap;
    uint64_t cellmap_len;
    uint8_t *visited;
    uint32_t flags;
    uint32_t minor;
    uint32_t max_depth;
    uint64_t list_limit;
    regf_walk_out *o;
} walker;

/* The reader's checked cell access (HiveImage.cell): stable, 8-aligned, inside the bins,
 * marked in the cell-start bitmap, allocated, with at least min data bytes. */
static const uint8_t *wcell(const walker *w, uint32_t c, uint64_t min, uint64_t *cap)
{
    uint64_t q = c >> 3, asize;
    int64_t size;
    if ((c & 0x80000007u) != 0 || (uint64_t)c + 4 > w->total)
        return NULL;
    if ((q >> 3) >= w->cellmap_len || !((w->cellmap[q >> 3] >> (q & 7)) & 1))
        return NULL;
    size = rd_i32(w->bins + c);
    if (size >= 0)
        return NULL;
    asize = (uint64_t)(-size);
    if (asize < 4 || asize > w->total - c || asize - 4 < min)
        return NULL;
    *cap = asize - 4;
    return w->bins + c + 4;
}

/* UTF-16LE bytes a stored name needs: compressed names are Latin-1 (one unit per byte),
 * UTF-16 names drop an odd trailing byte (fmt §4.9, as decode_name does). */
static uint64_t name_bytes(uint64_t len, int compressed)
{
    return compressed ? 2 * len : len & ~(uint64_t)1;
}

/* Append a name plus one U+0000 unit (so a lone surrogate at its end never pairs with
 * the next name, and Python can split the decoded chunk on NUL). A name that itself
 * holds a U+0000 unit sets o->name_nul: the caller then cannot split that chunk.
 * The caller has checked the room (name_bytes + 2). */
static void put_name(walker *w, uint8_t *dst, size_t *used, const uint8_t *p, uint64_t len,
                     int compressed)
{
    uint64_t nb = name_bytes(len, compressed), i;
    uint8_t *o = dst + *used;
    if (compressed) {
        for (i = 0; i < len; i++) {
            o[2 * i] = p[i];
            o[2 * i + 1] = 0;
            if (p[i] == 0)
                w->o->name_nul = 1;
        }
    } else {
        memcpy(o, p, (size_t)nb);
        for (i = 0; i < nb; i += 2)
            if (p[i] == 0 && p[i + 1] == 0)
                w->o->name_nul = 1;
    }
    o[nb] = 0;
    o[nb + 1] = 0;
    *used += (size_t)(nb + 2);
}

#define NK_MIN 0x4C
#define VK_MIN 0x14
#define MAX_LIST_ENTRIES (1u << 20)
#define MAX_VALUE_SIZE (256u * 1024u * 1024u)
#define BIG_SEGMENT 16344u

/* Append "<len>s" to the struct format (len <= REGF_WALK_DATA_MAX: at most 6 chars). */
static void put_fmt(regf_walk_out *o, uint32_t len)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = (char)('0' + len % 10);
        len /= 10;
    } while (len != 0);
    while (n > 0)
        o->fmt[o->fmt_len++] = digits[--n];
    o->fmt[o->fmt_len++] = 's';
}

/* Decode one vk into a value record: 1 done, 0 the vk fails a check the reader makes
 * (the values go to the slow path), -1 no room in this chunk. */
static int emit_value(walker *w, uint32_t vc)
{
    regf_walk_out *o = w->o;
    uint64_t cap, dcap, nb;
    const uint8_t *v = wcell(w, vc, VK_MIN, &cap), *d, *src = NULL;
    uint32_t ds, len, data, status = 0, copy = 0;
    uint16_t nl;
    if (v == NULL || v[0] != 'v' || v[1] != 'k')
        return 0;
    nl = rd16(v + 2);
    if ((uint64_t)VK_MIN + nl > cap)
        return 0;
    ds = rd32(v + 4);
    data = rd32(v + 8);
    len = ds & 0x7FFFFFFFu;
    if (ds & 0x80000000u) {
        /* Inline: the bytes are the data field itself, at most 4 of them (fmt §4.3). */
        src = v + 8;
        copy = len < 4 ? len : 4;
    } else if (len != 0) {
        status = REGF_V_SLOW;
        if (len <= REGF_WALK_DATA_MAX) {
            int literal = 1;
            if (len > BIG_SEGMENT && w->minor >= 4) {
                /* db records are assembled by the Python side; other cells are read
                 * literally when large enough (hivex writes such cells). */
                d = wcell(w, data, 4, &dcap);
                literal = d != NULL && !(d[0] == 'd' && d[1] == 'b');
            }
            if (literal && (d = wcell(w, data, len, &dcap)) != NULL) {
                src = d;
                copy = len;
                status = 0;
            }
        }
    }
    nb = name_bytes(nl, rd16(v + 0x10) & 1);
    if (o->nvals >= o->val_cap || o->vnames_cap - o->vnames_len < nb + 2 ||
        o->data_cap - o->data_len < copy || o->fmt_cap - o->fmt_len < 6)
        return -1;
    put_name(w, o->vnames, &o->vnames_len, v + VK_MIN, nl, rd16(v + 0x10) & 1);
    if (copy)
        memcpy(o->data + o->data_len, src, copy);
    o->data_len += copy;
    put_fmt(o, copy);
    o->val_cell[o->nvals] = vc;
    o->val_type[o->nvals] = rd32(v + 0x0C);
    o->val_status[o->nvals] = status;
    o->nvals++;
    return 1;
}

/* Values of the nk at k: 1 ok, 0 bad (slow path), -1 no room. */
static int emit_values(walker *w, const uint8_t *k)
{
    uint32_t count = (rd16(k + 2) & 0x40) ? 0 : rd32(k + 0x24);
    uint32_t list = rd32(k + 0x28), i;
    uint64_t cap;
    const uint8_t *l;
    int rc;
    if (count == 0 || list == 0xFFFFFFFFu)
        return 1;
    l = wcell(w, list, 0, &cap);
    if (l == NULL || 4 * (uint64_t)count > cap)
        return 0;
    if (count > w->o->val_cap - w->o->nvals)
        return -1;
    for (i = 0; i < count; i++) {
        rc = emit_value(w, rd32(l + 4 * (uint64_t)i));
        if (rc <= 0)
            return rc;
    }
    return 1;
}

/* A sound nk: returns its data or NULL. */
static const uint8_t *wnk(const walker *w, uint32_t c)
{
    uint64_t cap;
    const uint8_t *k = wcell(w, c, NK_MIN, &cap);
    if (k == NULL || k[0] != 'n' || k[1] != 'k' || (uint64_t)NK_MIN + rd16(k + 0x48) > cap)
        return NULL;
    return k;
}

/* Upcased code unit i of a stored name (compressed names are Latin-1 bytes). */
static uint16_t name_unit(const uint8_t *p, int compressed, uint64_t i)
{
    return upcase_tab[compressed ? p[i] : rd16(p + 2 * i)];
}

/* Case-insensitive equality of two nk names (Windows upcase per code unit, fmt §4.9). */
static int same_name(const uint8_t *a, const uint8_t *b)
{
    int ca = (rd16(a + 2) & 0x20) != 0, cb = (rd16(b + 2) & 0x20) != 0;
    uint64_t la = rd16(a + 0x48), lb = rd16(b + 0x48), i;
    uint64_t na = ca ? la : la / 2, nb = cb ? lb : lb / 2;
    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (name_unit(a + NK_MIN, ca, i) != name_unit(b + NK_MIN, cb, i))
            return 0;
    return 1;
}

/* Elements of a leaf list, or 0 when l is not a sound li/lf/lh of data capacity cap. */
static int leaf_shape(const uint8_t *l, uint64_t cap, uint64_t *n, uint64_t *es)
{
    int kind = list_kind(l);
    if (kind == 0 || kind == 4)
        return 0;
    *es = elem_size(kind);
    *n = rd16(l + 2);
    return 4 + *n * *es <= cap;
}

/* Check a whole subkey list at least as strictly as the reader's subkeys() does: list
 * and leaf cells, signatures (no ri inside an ri), counts, every nk, the entry limit, and
 * (strict) duplicate neighbours. 1 = sound. */
static int children_ok(const walker *w, uint32_t list)
{
    uint64_t cap, n, es, total = 0, i, j, outer, lcap;
    const uint8_t *l = wcell(w, list, 4, &cap), *leaf, *prev = NULL, *k;
    if (l == NULL)
        return 0;
    if (list_kind(l) == 4) {
        outer = rd16(l + 2);
        if (4 + 4 * outer > cap)
            return 0;
    } else {
        outer = 1;
    }
    for (j = 0; j < outer; j++) {
        if (list_kind(l) == 4) {
            leaf = wcell(w, rd32(l + 4 + 4 * j), 4, &lcap);
            if (leaf == NULL)
                return 0;
        } else {
            leaf = l;
            lcap = cap;
        }
        if (!leaf_shape(leaf, lcap, &n, &es))
            return 0;
        total += n;
        if (total > w->list_limit)
            return 0;
        for (i = 0; i < n; i++) {
            k = wnk(w, rd32(leaf + 4 + i * es));
            if (k == NULL)
                return 0;
            if ((w->flags & REGF_WALK_STRICT) && prev != NULL && same_name(prev, k))
                return 0;
            prev = k;
        }
    }
    return 1;
}

/* Visit the nk at c. Returns 1 emitted, 0 no room (nothing changed), 2 emitted and the
 * chunk must end here (children need the slow path), 3 c is not a sound nk (only if the
 * bytes changed since its list was checked: skipped). Sets *push when the caller must
 * push a frame for c's children. */
static int visit(walker *w, uint32_t c, uint32_t depth, int *push)
{
    regf_walk_out *o = w->o;
    size_t save_vnames = o->vnames_len, save_data = o->data_len, save_fmt = o->fmt_len;
    size_t save_nvals = o->nvals, save_knames = o->knames_len;
    const uint8_t *k = wnk(w, c);
    uint64_t q = c >> 3;
    uint32_t status = 0;
    int rc, comp;
    *push = 0;
    if (k == NULL)
        return 3;
    comp = (rd16(k + 2) & 0x20) != 0;
    if (o->nkeys >= o->key_cap ||
        o->knames_cap - o->knames_len < name_bytes(rd16(k + 0x48), comp) + 2)
        return 0;
    put_name(w, o->knames, &o->knames_len, k + NK_MIN, rd16(k + 0x48), comp);
    if ((w->visited[q >> 3] >> (q & 7)) & 1) {
        status = REGF_K_CYCLE;
    } else {
        if (w->flags & REGF_WALK_VALUES) {
            rc = emit_values(w, k);
            if (rc < 0 && o->nkeys > 0) {
                /* No room: end the chunk; this key starts the next one. */
                o->knames_len = save_knames;
                o->vnames_len = save_vnames;
                o->data_len = save_data;
                o->fmt_len = save_fmt;
                o->nvals = save_nvals;
                return 0;
            }
            if (rc <= 0) {
                /* Bad, or more than an empty chunk holds: the caller decodes them. */
                o->vnames_len = save_vnames;
                o->data_len = save_data;
                o->fmt_len = save_fmt;
                o->nvals = save_nvals;
                status |= REGF_K_VALUES_BAD;
            }
        }
        w->visited[q >> 3] |= (uint8_t)(1u << (q & 7));
        if (depth >= w->max_depth) {
            status |= REGF_K_DEPTH;
        } else if (rd32(k + 0x14) != 0 && rd32(k + 0x1C) != 0xFFFFFFFFu) {
            if (children_ok(w, rd32(k + 0x1C)))
                *push = 1;
            else
                status |= REGF_K_CHILDREN_BAD;
        }
    }
    o->key_cell[o->nkeys] = c;
    o->key_depth[o->nkeys] = depth;
    o->key_status[o->nkeys] = status;
    o->key_nvals[o->nkeys] = (uint32_t)(o->nvals - save_nvals);
    o->nkeys++;
    return (status & REGF_K_CHILDREN_BAD) ? 2 : 1;
}

/* Next child of frame f (list cell, outer index, inner index), advancing nothing.
 * Returns 1 and the nk index, or 0 when the list is exhausted. Every read is checked
 * again: the frame may come from a hostile state buffer or changed bytes. */
static int frame_peek(const walker *w, const uint32_t *f, uint32_t *child)
{
    uint64_t cap, lcap, n, es;
    const uint8_t *l = wcell(w, f[0], 4, &cap), *leaf;
    uint64_t outer = f[1], inner = f[2];
    if (l == NULL)
        return 0;
    if (list_kind(l) != 4) {
        if (!leaf_shape(l, cap, &n, &es) || inner >= n)
            return 0;
        *child = rd32(l + 4 + inner * es);
        return 1;
    }
    while (outer < rd16(l + 2) && 4 + 4 * outer + 4 <= cap) {
        leaf = wcell(w, rd32(l + 4 + 4 * outer), 4, &lcap);
        if (leaf == NULL || !leaf_shape(leaf, lcap, &n, &es))
            return 0;
        if (inner < n) {
            *child = rd32(leaf + 4 + inner * es);
            return 1;
        }
        outer++;
        inner = 0;
    }
    return 0;
}

/* Advance frame f past the child frame_peek returned (same path through the list). */
static void frame_next(const walker *w, uint32_t *f)
{
    uint64_t cap, lcap, n, es;
    const uint8_t *l = wcell(w, f[0], 4, &cap), *leaf;
    if (l == NULL || list_kind(l) != 4) {
        f[2]++;
        return;
    }
    while (f[1] < rd16(l + 2) && 4 + 4 * (uint64_t)f[1] + 4 <= cap) {
        leaf = wcell(w, rd32(l + 4 + 4 * (uint64_t)f[1]), 4, &lcap);
        if (leaf != NULL && leaf_shape(leaf, lcap, &n, &es) && f[2] < n) {
            f[2]++;
            return;
        }
        f[1]++;
        f[2] = 0;
    }
}

int regf_walk(const uint8_t *bins, size_t hbins_size, const uint8_t *cellmap,
              size_t cellmap_len, uint8_t *visited, size_t visited_len, uint32_t start_cell,
              uint32_t base_depth, uint32_t max_depth, uint32_t flags, uint32_t minor,
              uint32_t *state, regf_walk_out *out)
{
    walker w;
    uint32_t *frames = state + REGF_WALK_HEAD_WORDS, child, *f;
    int push, rc;
    if (!upcase_ready)
        regf_init();
    out->nkeys = out->nvals = 0;
    out->knames_len = out->vnames_len = out->data_len = out->fmt_len = 0;
    out->name_nul = 0;
    if ((uint64_t)hbins_size > REGF_MAX_HBINS_SIZE || visited == NULL ||
        visited_len < ((uint64_t)hbins_size >> 6) + 1)
        return REGF_WALK_E_ARGS;
    if (base_depth > max_depth || max_depth - base_depth >= REGF_WALK_MAX_FRAMES)
        return REGF_WALK_E_ARGS;
    if (out->key_cap < 1 || out->knames_cap < REGF_WALK_MIN_NAMES ||
        out->key_cap > REGF_WALK_CAP_MAX || out->val_cap > REGF_WALK_CAP_MAX ||
        out->knames_cap > REGF_WALK_CAP_MAX || out->vnames_cap > REGF_WALK_CAP_MAX ||
        out->data_cap > REGF_WALK_CAP_MAX || out->fmt_cap > REGF_WALK_CAP_MAX)
        return REGF_WALK_E_ARGS;
    if (state[0] > REGF_WALK_DONE || state[1] > REGF_WALK_MAX_FRAMES)
        return REGF_WALK_E_ARGS;
    w.bins = bins;
    w.total = hbins_size;
    w.cellmap = cellmap;
    w.cellmap_len = cellmap_len;
    w.visited = visited;
    w.flags = flags;
    w.minor = minor;
    w.max_depth = max_depth;
    /* The reader's strict list decoder allows at most hbins_size / 8 entries, its
     * forensic one 2^20: the walker accepts no more than either. */
    w.list_limit = (uint64_t)hbins_size / 8 < MAX_LIST_ENTRIES ? (uint64_t)hbins_size / 8
                                                                : MAX_LIST_ENTRIES;
    w.o = out;
    if (state[0] == REGF_WALK_DONE)
        return 0;
    if (state[0] == REGF_WALK_START) {
        if (wnk(&w, start_cell) == NULL)
            return REGF_WALK_E_START;
        rc = visit(&w, start_cell, base_depth, &push);
        if (rc != 1 && rc != 2)
            return REGF_WALK_E_ARGS; /* cannot happen: an empty chunk holds any one key */
        state[0] = REGF_WALK_RUNNING;
        state[1] = 0;
        if (push) {
            frames[0] = rd32(wnk(&w, start_cell) + 0x1C);
            frames[1] = frames[2] = 0;
            state[1] = 1;
        }
        if (rc == 2)
            return 1;
    }
    while (state[1] > 0) {
        f = frames + REGF_WALK_FRAME_WORDS * (state[1] - 1);
        if (!frame_peek(&w, f, &child)) {
            state[1]--;
            continue;
        }
        rc = visit(&w, child, base_depth + state[1], &push);
        if (rc == 0)
            return 1;
        frame_next(&w, f);
        if (push && state[1] < REGF_WALK_MAX_FRAMES) {
            f = frames + REGF_WALK_FRAME_WORDS * state[1];
            f[0] = rd32(wnk(&w, child) + 0x1C);
            f[1] = f[2] = 0;
            state[1]++;
        }
        if (rc == 2)
            return 1;
    }
    state[0] = REGF_WALK_DONE;
    return 0;
}
