/*
 * Reading the hive bins fast: the cell scan (regf_scan_cells), the subkey-list decoder
 * (regf_leaf_cells), the hbin chain check used after recovery (regf_bin_chain_end) and
 * the resumable tree walk (regf_walk). See regf_accel.h for each contract; the Python
 * twins are in regf/_accel/pure.py and (regf_walk) purewalk.py. Every field offset
 * comes from layout.h.
 */
#include "regf_accel.h"

#include "bytes.h"

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
        if (total - off < REGF_HBIN_FIXED_SIZE || !HAS_SIG(hb, HBIN) ||
            rd32(hb + REGF_HBIN_OFFSET) != off)
            return scan_err(off, REGF_SCAN_BAD_BIN);
        bin_size = rd32(hb + REGF_HBIN_SIZE);
        if (bin_size == 0 || bin_size % REGF_PAGE != 0 || bin_size > total - off)
            return scan_err(off, REGF_SCAN_BAD_BIN);
        end = off + bin_size;
        /* c and end are multiples of 8, so c < end leaves at least 8 readable bytes. */
        for (c = off + REGF_HBIN_FIXED_SIZE; c < end;) {
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
    if ((idx & REGF_VOLATILE_BIT) != 0 || (idx & 7u) != 0 ||
        (uint64_t)idx + REGF_CELL_FIXED_SIZE > total)
        return 0;
    size = rd_i32(bins + idx + REGF_CELL_SIZE);
    if (size >= 0)
        return 0;
    asize = (uint64_t)(-size);
    if (asize < REGF_CELL_FIXED_SIZE || asize > total - idx)
        return 0;
    *data_len = asize - REGF_CELL_FIXED_SIZE;
    return 1;
}

/* 0 = not a list, 1 = li, 2 = lf, 3 = lh, 4 = ri */
static int list_kind(const uint8_t *d)
{
    if (HAS_SIG(d, LI))
        return 1;
    if (HAS_SIG(d, LF))
        return 2;
    if (HAS_SIG(d, LH))
        return 3;
    if (HAS_SIG(d, RI))
        return 4;
    return 0;
}

static uint64_t elem_size(int kind)
{
    return (kind == 2 || kind == 3) ? REGF_LH_ELEM_FIXED_SIZE : REGF_LI_ELEM_SIZE;
}

/* Append the nk indexes of a leaf (li/lf/lh) whose data starts at d. */
static int emit_leaf(const uint8_t *bins, uint64_t total, const uint8_t *d, int kind,
                     uint32_t *out, size_t out_cap, uint64_t *count)
{
    uint64_t n = rd16(d + REGF_LIST_COUNT);
    uint64_t es = elem_size(kind);
    uint64_t limit = total / 8 < 0x7FFFFFFF ? total / 8 : 0x7FFFFFFF;
    uint64_t i, dl;
    for (i = 0; i < n; i++) {
        uint32_t nk = rd32(d + REGF_LIST_FIXED_SIZE + i * es);
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
    if (!cell_ok(bins, total, list_cell, &dl) || dl < REGF_LIST_FIXED_SIZE)
        return REGF_LEAF_E_LIST_CELL;
    d = bins + list_cell + REGF_CELL_FIXED_SIZE;
    kind = list_kind(d);
    if (kind == 0)
        return REGF_LEAF_E_LIST_SIG;
    n = rd16(d + REGF_LIST_COUNT);
    if (REGF_LIST_FIXED_SIZE + n * elem_size(kind) > dl)
        return REGF_LEAF_E_LIST_COUNT;
    if (kind != 4) {
        rc = emit_leaf(bins, total, d, kind, out, out_cap, &count);
        if (rc < 0)
            return rc;
    } else {
        for (i = 0; i < n; i++) {
            uint32_t leaf = rd32(d + REGF_LIST_FIXED_SIZE + i * REGF_RI_ELEM_SIZE);
            uint64_t ldl;
            const uint8_t *ld;
            int lkind;
            if (!cell_ok(bins, total, leaf, &ldl) || ldl < REGF_LIST_FIXED_SIZE)
                return REGF_LEAF_E_LEAF_CELL;
            ld = bins + leaf + REGF_CELL_FIXED_SIZE;
            lkind = list_kind(ld);
            if (lkind == 4)
                return REGF_LEAF_E_NESTED_RI;
            if (lkind == 0)
                return REGF_LEAF_E_LEAF_SIG;
            if (REGF_LIST_FIXED_SIZE + (uint64_t)rd16(ld + REGF_LIST_COUNT) * elem_size(lkind) >
                ldl)
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
        if (total - off < REGF_HBIN_FIXED_SIZE || !HAS_SIG(hb, HBIN) ||
            rd32(hb + REGF_HBIN_OFFSET) != off)
            return off;
        size = rd32(hb + REGF_HBIN_SIZE);
        if (size < REGF_PAGE || size % REGF_PAGE != 0 || size > total - off)
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
    uint32_t base_depth;
    uint64_t list_limit;
    const uint16_t *upcase; /* regf_upcase_table() */
    regf_walk_out *o;
} walker;

/* The reader's checked cell access (HiveImage.cell): stable, 8-aligned, inside the bins,
 * marked in the cell-start bitmap, allocated, with at least min data bytes. */
static const uint8_t *wcell(const walker *w, uint32_t c, uint64_t min, uint64_t *cap)
{
    uint64_t q = c >> 3, asize;
    int64_t size;
    if ((c & (REGF_VOLATILE_BIT | 7u)) != 0 || (uint64_t)c + REGF_CELL_FIXED_SIZE > w->total)
        return NULL;
    if ((q >> 3) >= w->cellmap_len || !((w->cellmap[q >> 3] >> (q & 7)) & 1))
        return NULL;
    size = rd_i32(w->bins + c + REGF_CELL_SIZE);
    if (size >= 0)
        return NULL;
    asize = (uint64_t)(-size);
    if (asize < REGF_CELL_FIXED_SIZE || asize > w->total - c || asize - REGF_CELL_FIXED_SIZE < min)
        return NULL;
    *cap = asize - REGF_CELL_FIXED_SIZE;
    return w->bins + c + REGF_CELL_FIXED_SIZE;
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
    uint64_t nb = name_bytes(len, compressed), i = 0;
    uint8_t *o = dst + *used;
    uint32_t nul = 0;
    if (compressed) {
        /* Four Latin-1 bytes at a time: spread b0..b3 to b0 0 b1 0 b2 0 b3 0 (rd32 and
         * wr64 are little-endian on every host), and test for a zero byte with the
         * classic (v - 0x01..) & ~v & 0x80.. trick. Names are short (~15 bytes): the
         * byte loop cost a fifth of the walker's instructions. */
        for (; i + 4 <= len; i += 4) {
            uint32_t v = rd32(p + i);
            uint64_t x = v;
            nul |= (v - 0x01010101u) & ~v & 0x80808080u;
            x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
            x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
            wr64(o + 2 * i, x);
        }
        for (; i < len; i++) {
            o[2 * i] = p[i];
            o[2 * i + 1] = 0;
            nul |= p[i] == 0;
        }
    } else {
        memcpy(o, p, (size_t)nb);
        for (; i < nb; i += 2)
            nul |= (p[i] | p[i + 1]) == 0;
    }
    if (nul)
        w->o->name_nul = 1;
    o[nb] = 0;
    o[nb + 1] = 0;
    *used += (size_t)(nb + 2);
}

#define MAX_LIST_ENTRIES (1u << 20)

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
    const uint8_t *v = wcell(w, vc, REGF_VK_FIXED_SIZE, &cap), *d, *src = NULL;
    uint32_t ds, len, data, status = 0, copy = 0;
    uint16_t nl;
    int comp;
    if (v == NULL || !HAS_SIG(v, VK))
        return 0;
    nl = rd16(v + REGF_VK_NAME_LENGTH);
    if ((uint64_t)REGF_VK_FIXED_SIZE + nl > cap)
        return 0;
    ds = rd32(v + REGF_VK_DATA_SIZE);
    data = rd32(v + REGF_VK_DATA);
    len = ds & ~REGF_DATA_INLINE;
    if (ds & REGF_DATA_INLINE) {
        /* Inline: the bytes are the data field itself, at most 4 of them (fmt §4.3). */
        src = v + REGF_VK_DATA;
        copy = len < REGF_VK_DATA_BYTES ? len : REGF_VK_DATA_BYTES;
    } else if (len != 0) {
        status = REGF_V_SLOW;
        if (len <= REGF_WALK_DATA_MAX) {
            int literal = 1;
            if (len > REGF_BIG_DATA_SEGMENT && w->minor >= 4) {
                /* db records are assembled by the Python side; other cells are read
                 * literally when large enough (hivex writes such cells). */
                d = wcell(w, data, REGF_DB_SEGMENT_COUNT + REGF_DB_SEGMENT_COUNT_BYTES, &dcap);
                literal = d != NULL && !HAS_SIG(d, DB);
            }
            if (literal && (d = wcell(w, data, len, &dcap)) != NULL) {
                src = d;
                copy = len;
                status = 0;
            }
        }
    }
    comp = (rd16(v + REGF_VK_FLAGS) & REGF_VALUE_COMP_NAME) != 0;
    nb = name_bytes(nl, comp);
    if (o->nvals >= o->val_cap || o->vnames_cap - o->vnames_len < nb + 2 ||
        o->data_cap - o->data_len < copy || o->fmt_cap - o->fmt_len < 6)
        return -1;
    put_name(w, o->vnames, &o->vnames_len, v + REGF_VK_FIXED_SIZE, nl, comp);
    if (copy)
        memcpy(o->data + o->data_len, src, copy);
    o->data_len += copy;
    put_fmt(o, copy);
    o->val_cell[o->nvals] = vc;
    o->val_type[o->nvals] = rd32(v + REGF_VK_TYPE);
    o->val_status[o->nvals] = status;
    o->nvals++;
    return 1;
}

/* Values of the nk at k: 1 ok, 0 bad (slow path), -1 no room. */
static int emit_values(walker *w, const uint8_t *k)
{
    /* A predefined-handle key's value count is not a count (fmt §4.1). */
    uint32_t count =
        (rd16(k + REGF_NK_FLAGS) & REGF_KEY_PREDEF_HANDLE) ? 0 : rd32(k + REGF_NK_VALUE_COUNT);
    uint32_t list = rd32(k + REGF_NK_VALUE_LIST), i;
    uint64_t cap;
    const uint8_t *l;
    int rc;
    if (count == 0 || list == REGF_HCELL_NIL)
        return 1;
    l = wcell(w, list, 0, &cap);
    if (l == NULL || REGF_VALUE_LIST_ELEM_SIZE * (uint64_t)count > cap)
        return 0;
    if (count > w->o->val_cap - w->o->nvals)
        return -1;
    for (i = 0; i < count; i++) {
        rc = emit_value(w, rd32(l + REGF_VALUE_LIST_ELEM_SIZE * (uint64_t)i));
        if (rc <= 0)
            return rc;
    }
    return 1;
}

/* A sound nk: returns its data or NULL. */
static const uint8_t *wnk(const walker *w, uint32_t c)
{
    uint64_t cap;
    const uint8_t *k = wcell(w, c, REGF_NK_FIXED_SIZE, &cap);
    if (k == NULL || !HAS_SIG(k, NK) ||
        (uint64_t)REGF_NK_FIXED_SIZE + rd16(k + REGF_NK_NAME_LENGTH) > cap)
        return NULL;
    return k;
}

/* Upcased code unit i of a stored name (compressed names are Latin-1 bytes). */
static uint16_t name_unit(const walker *w, const uint8_t *p, int compressed, uint64_t i)
{
    return w->upcase[compressed ? p[i] : rd16(p + 2 * i)];
}

/* Case-insensitive equality of two nk names (Windows upcase per code unit, fmt §4.9). */
static int same_name(const walker *w, const uint8_t *a, const uint8_t *b)
{
    int ca = (rd16(a + REGF_NK_FLAGS) & REGF_KEY_COMP_NAME) != 0;
    int cb = (rd16(b + REGF_NK_FLAGS) & REGF_KEY_COMP_NAME) != 0;
    uint64_t la = rd16(a + REGF_NK_NAME_LENGTH), lb = rd16(b + REGF_NK_NAME_LENGTH), i;
    uint64_t na = ca ? la : la / 2, nb = cb ? lb : lb / 2;
    if (na != nb)
        return 0;
    for (i = 0; i < na; i++)
        if (name_unit(w, a + REGF_NK_FIXED_SIZE, ca, i) !=
            name_unit(w, b + REGF_NK_FIXED_SIZE, cb, i))
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
    *n = rd16(l + REGF_LIST_COUNT);
    return REGF_LIST_FIXED_SIZE + *n * *es <= cap;
}

/* Check a whole subkey list at least as strictly as the reader's subkeys() does: list
 * and leaf cells, signatures (no ri inside an ri), counts, every nk, the entry limit, and
 * (strict) duplicate neighbours. 1 = sound. */
static int children_ok(const walker *w, uint32_t list, uint64_t *entries)
{
    uint64_t cap, n, es, total = 0, i, j, outer, lcap;
    const uint8_t *l = wcell(w, list, REGF_LIST_FIXED_SIZE, &cap), *leaf, *prev = NULL, *k;
    if (l == NULL)
        return 0;
    if (list_kind(l) == 4) {
        outer = rd16(l + REGF_LIST_COUNT);
        if (REGF_LIST_FIXED_SIZE + REGF_RI_ELEM_SIZE * outer > cap)
            return 0;
    } else {
        outer = 1;
    }
    for (j = 0; j < outer; j++) {
        if (list_kind(l) == 4) {
            leaf = wcell(w, rd32(l + REGF_LIST_FIXED_SIZE + REGF_RI_ELEM_SIZE * j),
                         REGF_LIST_FIXED_SIZE, &lcap);
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
            k = wnk(w, rd32(leaf + REGF_LIST_FIXED_SIZE + i * es));
            if (k == NULL)
                return 0;
            if ((w->flags & REGF_WALK_STRICT) && prev != NULL && same_name(w, prev, k))
                return 0;
            prev = k;
        }
    }
    *entries = total;
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
    comp = (rd16(k + REGF_NK_FLAGS) & REGF_KEY_COMP_NAME) != 0;
    if (o->nkeys >= o->key_cap ||
        o->knames_cap - o->knames_len < name_bytes(rd16(k + REGF_NK_NAME_LENGTH), comp) + 2)
        return 0;
    put_name(w, o->knames, &o->knames_len, k + REGF_NK_FIXED_SIZE, rd16(k + REGF_NK_NAME_LENGTH),
             comp);
    if ((w->visited[q >> 3] >> (q & 7)) & 1) {
        status = REGF_K_CYCLE;
    } else {
        if ((w->flags & REGF_WALK_VALUES) &&
            !((w->flags & REGF_WALK_LEVEL) && depth == w->base_depth)) {
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
            if ((w->flags & REGF_WALK_LEVEL) && (rd32(k + REGF_NK_SUBKEY_COUNT) == 0 ||
                                                 rd32(k + REGF_NK_SUBKEY_LIST) == REGF_HCELL_NIL))
                status |= REGF_K_LEAF;
        } else if (rd32(k + REGF_NK_SUBKEY_COUNT) != 0 &&
                   rd32(k + REGF_NK_SUBKEY_LIST) != REGF_HCELL_NIL) {
            uint64_t entries = 0;
            if (!children_ok(w, rd32(k + REGF_NK_SUBKEY_LIST), &entries))
                status |= REGF_K_CHILDREN_BAD;
            else if (entries != 0 || !(w->flags & REGF_WALK_GROUPS))
                *push = 1;
            else
                status |= REGF_K_LEAF; /* a sound list with no entries: a group of none */
        } else if (w->flags & REGF_WALK_GROUPS) {
            status |= REGF_K_LEAF;
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
 * Returns 1, the nk index and in next the frame's (outer, inner) past that child, or 0
 * when the list is exhausted. Every read is checked again: the frame may come from a
 * hostile state buffer or changed bytes. The caller stores next once the child is
 * taken (a child that does not fit in the chunk is not), instead of walking the list
 * again to advance: the same skips over exhausted ri leaves, the same result. */
static int frame_peek(const walker *w, const uint32_t *f, uint32_t *child, uint32_t *next)
{
    uint64_t cap, lcap, n, es;
    const uint8_t *l = wcell(w, f[0], REGF_LIST_FIXED_SIZE, &cap), *leaf;
    uint64_t outer = f[1], inner = f[2];
    if (l == NULL)
        return 0;
    if (list_kind(l) != 4) {
        if (!leaf_shape(l, cap, &n, &es) || inner >= n)
            return 0;
        *child = rd32(l + REGF_LIST_FIXED_SIZE + inner * es);
        next[0] = (uint32_t)outer;
        next[1] = (uint32_t)inner + 1;
        return 1;
    }
    while (outer < rd16(l + REGF_LIST_COUNT) &&
           REGF_LIST_FIXED_SIZE + REGF_RI_ELEM_SIZE * (outer + 1) <= cap) {
        leaf = wcell(w, rd32(l + REGF_LIST_FIXED_SIZE + REGF_RI_ELEM_SIZE * outer),
                     REGF_LIST_FIXED_SIZE, &lcap);
        if (leaf == NULL || !leaf_shape(leaf, lcap, &n, &es))
            return 0;
        if (inner < n) {
            *child = rd32(leaf + REGF_LIST_FIXED_SIZE + inner * es);
            next[0] = (uint32_t)outer;
            next[1] = (uint32_t)inner + 1;
            return 1;
        }
        outer++;
        inner = 0;
    }
    return 0;
}

/* The expansion mark of a grouped walk: the visited bit of unit c/8 + REGF_WALK_MARK_UNIT,
 * which lies inside c's own nk cell (at least 0x50 bytes), so no cell start uses it. */
static int mark_op(uint8_t *visited, uint32_t c, int op)
{
    uint64_t u = ((uint64_t)c >> 3) + REGF_WALK_MARK_UNIT;
    uint8_t bit = (uint8_t)(1u << (u & 7));
    int was = (visited[u >> 3] & bit) != 0;
    if (op > 0)
        visited[u >> 3] |= bit;
    else if (op < 0)
        visited[u >> 3] &= (uint8_t)~bit;
    return was;
}

/* REGF_WALK_GROUPS: the top frame is in one of three modes (state[2]): its key's
 * children are being emitted (the first not yet, or some already), or they all are
 * and the frame descends into the marked ones, each emitting its own group first. */
#define GROUP_DESCEND 0u
#define GROUP_FIRST 1u
#define GROUP_MORE 2u

static int walk_groups(walker *w, uint32_t *state)
{
    uint32_t *frames = state + REGF_WALK_HEAD_WORDS, child, *f, next[2];
    int push, rc;
    while (state[1] > 0) {
        f = frames + REGF_WALK_FRAME_WORDS * (state[1] - 1);
        if (state[2] != GROUP_DESCEND) {
            if (!frame_peek(w, f, &child, next)) {
                /* The group is complete: walk the same list again, descending. */
                f[1] = f[2] = 0;
                state[2] = GROUP_DESCEND;
                continue;
            }
            rc = visit(w, child, w->base_depth + state[1], &push);
            if (rc == 0)
                return 1;
            if (rc != 3 && state[2] == GROUP_FIRST) {
                w->o->key_status[w->o->nkeys - 1] |= REGF_K_GROUP;
                state[2] = GROUP_MORE;
            }
            if (push)
                mark_op(w->visited, child, 1);
            f[1] = next[0];
            f[2] = next[1];
            if (rc == 2)
                return 1;
            continue;
        }
        if (!frame_peek(w, f, &child, next)) {
            state[1]--;
            continue;
        }
        f[1] = next[0];
        f[2] = next[1];
        /* Only a marked child is expanded (a cycle or a duplicate never is), once. */
        if (state[1] < REGF_WALK_MAX_FRAMES && (child & 7u) == 0 &&
            (uint64_t)child + REGF_NK_FIXED_SIZE + REGF_CELL_FIXED_SIZE <= w->total &&
            mark_op(w->visited, child, -1)) {
            const uint8_t *k = wnk(w, child);
            if (k == NULL)
                continue;
            f = frames + REGF_WALK_FRAME_WORDS * state[1];
            f[0] = rd32(k + REGF_NK_SUBKEY_LIST);
            f[1] = f[2] = 0;
            state[1]++;
            state[2] = GROUP_FIRST;
        }
    }
    state[0] = REGF_WALK_DONE;
    return 0;
}

int regf_walk(const uint8_t *bins, size_t hbins_size, const uint8_t *cellmap,
              size_t cellmap_len, uint8_t *visited, size_t visited_len, uint32_t start_cell,
              uint32_t base_depth, uint32_t max_depth, uint32_t flags, uint32_t minor,
              uint32_t *state, regf_walk_out *out)
{
    walker w;
    uint32_t *frames = state + REGF_WALK_HEAD_WORDS, child, *f, next[2];
    int push, rc;
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
    if (state[0] > REGF_WALK_DONE || state[1] > REGF_WALK_MAX_FRAMES || state[2] > GROUP_MORE)
        return REGF_WALK_E_ARGS;
    w.bins = bins;
    w.total = hbins_size;
    w.cellmap = cellmap;
    w.cellmap_len = cellmap_len;
    w.visited = visited;
    w.flags = flags;
    w.minor = minor;
    w.max_depth = max_depth;
    w.base_depth = base_depth;
    /* The reader's strict list decoder allows at most hbins_size / 8 entries, its
     * forensic one 2^20: the walker accepts no more than either. */
    w.upcase = regf_upcase_table();
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
        state[2] = GROUP_DESCEND;
        if (push) {
            frames[0] = rd32(wnk(&w, start_cell) + REGF_NK_SUBKEY_LIST);
            frames[1] = frames[2] = 0;
            state[1] = 1;
            if (flags & REGF_WALK_GROUPS)
                state[2] = GROUP_FIRST; /* the start key's children: the first group */
        }
        if (rc == 2)
            return 1;
    }
    if (flags & REGF_WALK_GROUPS)
        return walk_groups(&w, state);
    while (state[1] > 0) {
        f = frames + REGF_WALK_FRAME_WORDS * (state[1] - 1);
        if (!frame_peek(&w, f, &child, next)) {
            state[1]--;
            continue;
        }
        rc = visit(&w, child, base_depth + state[1], &push);
        if (rc == 0)
            return 1;
        f[1] = next[0];
        f[2] = next[1];
        if (push && state[1] < REGF_WALK_MAX_FRAMES) {
            f = frames + REGF_WALK_FRAME_WORDS * state[1];
            f[0] = rd32(wnk(&w, child) + REGF_NK_SUBKEY_LIST);
            f[1] = f[2] = 0;
            state[1]++;
        }
        if (rc == 2)
            return 1;
    }
    state[0] = REGF_WALK_DONE;
    return 0;
}
