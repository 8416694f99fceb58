/*
 * Key cells: the create_key fast path (regf_alloc_open_key), the C twin of
 * regf/model/edithive.py _find_child / _create_child for a stable key under a stable parent
 * in a >= 1.5 hive, with nodes.new_nk, sublists.insert and nodes.touch_parent. See
 * alloc.h for the contract; every field offset comes from layout.h.
 */
#include <string.h>

#include "cells.h"

/* One lh leaf holding one element: the list head and an (nk, hash) pair. */
#define FIRST_LEAF (REGF_LIST_FIXED_SIZE + REGF_LH_ELEM_FIXED_SIZE)
/* The element at position i of the list whose data starts at file offset d. */
#define LH_ELEM(d, i) ((d) + REGF_LIST_FIXED_SIZE + REGF_LH_ELEM_FIXED_SIZE * (uint64_t)(i))
#define RI_ELEM(d, i) ((d) + REGF_LIST_FIXED_SIZE + REGF_RI_ELEM_SIZE * (uint64_t)(i))

/* sublists.nk_key compared with want (upcased units): <0, 0, >0 like the sort keys
 * (unsigned 16-bit code units, a prefix first); 2 when the entry must not be trusted
 * here (Python decides: check_entry raises, or an odd UTF-16 length is decoded). */
static int entry_cmp(const uint8_t *img, size_t len, uint32_t nk, const uint16_t *want,
                     size_t units) {
    const uint16_t *upcase = regf_upcase_table();
    uint64_t s = cell_data(nk);
    uint32_t n, m, i;
    int comp;
    if ((nk & (REGF_VOLATILE_BIT | 7u)) || s + REGF_NK_FIXED_SIZE > len || !HAS_SIG(img + s, NK))
        return 2;
    n = rd16(img + s + REGF_NK_NAME_LENGTH);
    if (s + REGF_NK_FIXED_SIZE + n > len) return 2;
    comp = (rd16(img + s + REGF_NK_FLAGS) & REGF_KEY_COMP_NAME) != 0;
    if (!comp && (n & 1u)) return 2;
    m = comp ? n : n / 2;
    for (i = 0; i < m && i < units; i++) {
        uint64_t at = s + REGF_NK_FIXED_SIZE;
        uint16_t u = comp ? img[at + i] : rd16(img + at + 2 * i);
        uint16_t k = upcase[u];
        if (k != want[i]) return k < want[i] ? -1 : 1;
    }
    return m < units ? -1 : m > units ? 1 : 0;
}

/* sublists._bisect over an lh leaf of n entries at data offset d: the same probes
 * (the last entry first: sequential creation reads one name). Returns the position,
 * sets *hit; -2 when an entry is not trusted. */
static int64_t leaf_bisect(const uint8_t *img, size_t len, uint64_t d, uint32_t n,
                           const uint16_t *want, size_t units, int *hit) {
    uint32_t lo = 0, hi = n;
    int c;
    *hit = 0;
    if (n) {
        c = entry_cmp(img, len, rd32(img + LH_ELEM(d, n - 1) + REGF_LH_ELEM_CELL), want, units);
        if (c == 2) return -2;
        if (c < 0) return n;
        if (c == 0) {
            *hit = 1;
            return n - 1;
        }
        hi = n - 1;
    }
    while (lo < hi) {
        uint32_t mid = (lo + hi) >> 1;
        c = entry_cmp(img, len, rd32(img + LH_ELEM(d, mid) + REGF_LH_ELEM_CELL), want, units);
        if (c == 2) return -2;
        if (c < 0) {
            lo = mid + 1;
        } else if (c == 0) {
            *hit = 1;
            return mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* sublists._head's checks on a subkey list cell: aligned, in range, allocated, its count
 * of entries inside it. Returns its data offset (the signature) with *kind = 'h' for an
 * lh, 'i' for an ri and *n its count; 0 for anything else (other kinds included: C does
 * not read lf / li lists, Python does). */
static uint64_t list_head(const uint8_t *img, uint32_t limit, uint32_t lst, uint8_t *kind,
                          uint32_t *n) {
    uint64_t d = cell_data(lst);
    int64_t size;
    uint32_t es;
    if ((lst & 7u) || (uint64_t)lst + 8 > limit) return 0;
    size = rd_i32(img + REGF_HBINS_OFFSET + lst + REGF_CELL_SIZE);
    if (size >= 0 || (int64_t)lst - size > (int64_t)limit) return 0;
    if (HAS_SIG(img + d, LH)) {
        es = REGF_LH_ELEM_FIXED_SIZE;
        *kind = 'h';
    } else if (HAS_SIG(img + d, RI)) {
        es = REGF_RI_ELEM_SIZE;
        *kind = 'i';
    } else {
        return 0;
    }
    *n = rd16(img + d + REGF_LIST_COUNT);
    if (REGF_LIST_FIXED_SIZE + es * (int64_t)*n > -size - REGF_CELL_FIXED_SIZE) return 0;
    return d;
}

/* want against the last name of the ri's leaf `leaf` (sublists._leaf_last_key, which
 * raises for a leaf that is an ri or empty): <0, 0, >0, or 2 when Python must decide
 * (that, a bad cell or entry, or a leaf kind C does not read). */
static int leaf_last_cmp(const uint8_t *img, size_t len, uint32_t limit, uint32_t leaf,
                         const uint16_t *want, size_t units) {
    uint8_t kind = 0;
    uint32_t n = 0;
    uint64_t d = list_head(img, limit, leaf, &kind, &n);
    if (!d || kind != 'h' || n == 0) return 2;
    return entry_cmp(img, len, rd32(img + LH_ELEM(d, n - 1) + REGF_LH_ELEM_CELL), want, units);
}

/* sublists._root_select over an ri of rcount > 0 leaves at data offset r, with the same
 * probes (the last leaf first: sequential creation): the index of the leaf for want, or
 * -2 when a probe is not trusted. */
static int64_t root_select(const uint8_t *img, size_t len, uint32_t limit, uint64_t r,
                           uint32_t rcount, const uint16_t *want, size_t units) {
    uint32_t lo = 0, hi = rcount;
    int c = leaf_last_cmp(img, len, limit, rd32(img + RI_ELEM(r, rcount - 1)), want, units);
    if (c == 2) return -2;
    if (c < 0) return rcount - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) >> 1;
        c = leaf_last_cmp(img, len, limit, rd32(img + RI_ELEM(r, mid)), want, units);
        if (c == 2) return -2;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rcount - 1 ? lo : rcount - 1;
}

/* What key_lookup found: the name upcased, the parent, its list and where the name is
 * or would go. */
typedef struct {
    uint16_t want[REGF_SV_MAX_UNITS];
    int comp;       /* the name fits Latin-1 (stored compressed) */
    uint64_t pd;    /* the parent nk's data offset */
    uint32_t count; /* the parent's stable subkey count */
    uint32_t lst;   /* its stable list cell */
    uint32_t leaf;  /* the lh leaf searched: lst, or the ri's leaf sel */
    int64_t sel;    /* that leaf's index in the ri, or -1 without an ri */
    uint32_t n;     /* the leaf's count */
    int64_t pos;    /* the name's position in the leaf (sublists._bisect) */
    int hit;        /* the name is there */
} lookup_t;

/* Shared checks of both calls: the parent nk, its stable list (none, one lh leaf, or an
 * ri of lh leaves: sublists._head's checks) and the lookup (sublists.find's probes).
 * Returns 0, or REGF_SV_FALLBACK. */
static int key_lookup(const regf_alloc *a, const uint8_t *img, size_t len, int64_t parent,
                      const uint8_t *name16, size_t units, lookup_t *k) {
    uint32_t limit = regf_alloc_hbins_size(a);
    k->hit = 0;
    k->pos = 0;
    k->n = 0;
    k->sel = -1;
    if (!regf_alloc_image_ok(a, len) || units == 0 || units > REGF_SV_MAX_UNITS || parent < 0 ||
        parent > (int64_t)limit)
        return REGF_SV_FALLBACK;
    k->comp = upcase_name(regf_upcase_table(), name16, units, k->want);
    k->pd = live_data(img, limit, (uint64_t)parent, REGF_NK_FIXED_SIZE);
    if (!k->pd || !HAS_SIG(img + k->pd, NK)) return REGF_SV_FALLBACK;
    k->count = rd32(img + k->pd + REGF_NK_SUBKEY_COUNT);
    k->lst = k->leaf = rd32(img + k->pd + REGF_NK_SUBKEY_LIST);
    if (k->count && k->lst != REGF_HCELL_NIL) {
        uint8_t kind = 0;
        uint64_t d = list_head(img, limit, k->lst, &kind, &k->n);
        if (!d) return REGF_SV_FALLBACK;
        if (kind == 'i') {
            /* an index root: the leaf its last names select (an empty root: Python) */
            if (k->n == 0) return REGF_SV_FALLBACK;
            k->sel = root_select(img, len, limit, d, k->n, k->want, units);
            if (k->sel < 0) return REGF_SV_FALLBACK;
            k->leaf = rd32(img + RI_ELEM(d, k->sel));
            d = list_head(img, limit, k->leaf, &kind, &k->n); /* checked by root_select */
            if (!d || kind != 'h') return REGF_SV_FALLBACK;
        }
        k->pos = leaf_bisect(img, len, d, k->n, k->want, units, &k->hit);
        if (k->pos < 0) return REGF_SV_FALLBACK;
    }
    return 0;
}

/* regf_alloc_open_key's creation after its lookup k, for a name that is not there. */
static int64_t create_at(regf_alloc *a, uint8_t *img, size_t len, int64_t parent,
                         const uint8_t *name16, size_t units, uint64_t timestamp,
                         int64_t *st, int64_t *aux, const lookup_t *k) {
    uint64_t d, at;
    uint32_t sk, stored, hash = 0, name_bytes = 2 * (uint32_t)units, cur, n = k->n;
    uint32_t list_field;
    int64_t nk, leaf, cap, pos = k->pos;
    size_t i;
    uint8_t el[REGF_LH_ELEM_FIXED_SIZE];
    const uint64_t pd = k->pd;
    if (k->count == 0 || k->lst == REGF_HCELL_NIL) {
        n = 0; /* a list index beside a zero count is not trusted: a new leaf */
        pos = 0;
    } else if (n >= REGF_MAX_LEAF_LH || regf_alloc_check(a, img, len, k->leaf) < 0) {
        /* a full leaf (an ri goes above it, or the ri's leaf splits) or a bad cell:
         * Python decides */
        return REGF_SV_FALLBACK;
    } else if (k->sel >= 0 && regf_alloc_check(a, img, len, k->lst) < 0) {
        return REGF_SV_FALLBACK; /* the root is written if the leaf moves */
    }
    /* The parent's sk gains the reference (cellsec._sk_start's checks first). */
    sk = rd32(img + pd + REGF_NK_SECURITY);
    if (sk != REGF_HCELL_NIL && !(st[0] & 1)) {
        int64_t scap = regf_alloc_check(a, img, len, sk);
        uint64_t sd = cell_data(sk);
        uint32_t refs;
        if (scap < 0 || scap - REGF_CELL_FIXED_SIZE < (int64_t)REGF_SK_FIXED_SIZE ||
            !HAS_SIG(img + sd, SK) ||
            REGF_SK_FIXED_SIZE + (uint64_t)rd32(img + sd + REGF_SK_DESCRIPTOR_LENGTH) >
                (uint64_t)scap - REGF_CELL_FIXED_SIZE)
            return REGF_SV_FALLBACK;
        refs = rd32(img + sd + REGF_SK_REFERENCE_COUNT);
        if (refs == 0xFFFFFFFFu) return REGF_SV_FALLBACK;
        wr32(img + sd + REGF_SK_REFERENCE_COUNT, refs + 1);
        regf_alloc_touch(a, sd + REGF_SK_REFERENCE_COUNT, REGF_SK_REFERENCE_COUNT_BYTES);
    }
    st[0] |= 1;
    /* nodes.new_nk: the node, name stored Latin-1 when every unit fits (fmt 4.9). */
    stored = k->comp ? (uint32_t)units : name_bytes;
    nk = st[1];
    if (nk < 0) {
        nk = regf_alloc_alloc(a, img, len, (int64_t)(REGF_NK_FIXED_SIZE + stored), aux);
        if (nk < 0) return nk;
        d = cell_data((uint64_t)nk); /* zeroed by the allocation */
        PUT_SIG(img + d, NK);
        wr16(img + d + REGF_NK_FLAGS, k->comp ? REGF_KEY_COMP_NAME : 0);
        wr64(img + d + REGF_NK_LAST_WRITTEN, timestamp);
        wr32(img + d + REGF_NK_PARENT, (uint32_t)parent);
        wr32(img + d + REGF_NK_SUBKEY_LIST, REGF_HCELL_NIL);
        wr32(img + d + REGF_NK_VOLATILE_SUBKEY_LIST, REGF_HCELL_NIL);
        wr32(img + d + REGF_NK_VALUE_LIST, REGF_HCELL_NIL);
        wr32(img + d + REGF_NK_SECURITY, sk);
        wr32(img + d + REGF_NK_CLASS_CELL, REGF_HCELL_NIL);
        wr16(img + d + REGF_NK_NAME_LENGTH, (uint16_t)stored);
        for (i = 0; i < units; i++) {
            if (k->comp)
                img[d + REGF_NK_FIXED_SIZE + i] = name16[2 * i];
            else
                wr16(img + d + REGF_NK_FIXED_SIZE + 2 * i, rd16(name16 + 2 * i));
        }
        regf_alloc_touch(a, d, REGF_NK_FIXED_SIZE + stored);
        st[1] = nk;
    }
    /* sublists.insert / _add_to_leaf: a first lh leaf, or the leaf grown 1.5x when full
     * (at least one element more), then the element inserted in sorted position. */
    if (n == 0) {
        leaf = st[2];
        if (leaf < 0) {
            leaf = regf_alloc_alloc(a, img, len, FIRST_LEAF, aux);
            if (leaf < 0) return leaf;
            PUT_SIG(img + cell_data((uint64_t)leaf), LH); /* count 0: zeroed */
            regf_alloc_touch(a, cell_data((uint64_t)leaf), REGF_LIST_FIXED_SIZE);
            st[2] = leaf;
        }
    } else {
        leaf = k->leaf;
        cap = -rd_i32(img + REGF_HBINS_OFFSET + leaf + REGF_CELL_SIZE) - REGF_CELL_FIXED_SIZE;
        if (cap - (int64_t)(REGF_LIST_FIXED_SIZE + REGF_LH_ELEM_FIXED_SIZE * n) <
            REGF_LH_ELEM_FIXED_SIZE) {
            int64_t size = cap + cap / 2;
            if (size < cap + REGF_LH_ELEM_FIXED_SIZE) size = cap + REGF_LH_ELEM_FIXED_SIZE;
            leaf = regf_alloc_realloc(a, img, len, leaf, size, aux);
            if (leaf < 0) return leaf;
        }
    }
    for (i = 0; i < units; i++) hash = hash * 37u + k->want[i]; /* lh hash, fmt 4.2 */
    d = cell_data((uint64_t)leaf);
    wr16(img + d + REGF_LIST_COUNT, (uint16_t)(n + 1));
    regf_alloc_touch(a, d + REGF_LIST_COUNT, REGF_LIST_COUNT_BYTES);
    at = LH_ELEM(d, pos);
    memmove(img + at + REGF_LH_ELEM_FIXED_SIZE, img + at,
            REGF_LH_ELEM_FIXED_SIZE * (size_t)(n - (uint32_t)pos));
    wr32(el + REGF_LH_ELEM_CELL, (uint32_t)nk);
    wr32(el + REGF_LH_ELEM_HASH, hash);
    memcpy(img + at, el, REGF_LH_ELEM_FIXED_SIZE);
    regf_alloc_touch(a, at, REGF_LH_ELEM_FIXED_SIZE * (uint64_t)(n - (uint32_t)pos + 1));
    list_field = (uint32_t)leaf;
    if (k->sel >= 0) {
        /* under an ri: the root keeps its cell and points at the leaf where it moved */
        uint64_t r = RI_ELEM(cell_data(k->lst), k->sel);
        if ((uint32_t)leaf != k->leaf) {
            wr32(img + r, (uint32_t)leaf);
            regf_alloc_touch(a, r, REGF_RI_ELEM_SIZE);
        }
        list_field = k->lst;
    }
    /* nodes.touch_parent: time, count and list, MaxNameLen (u16 only) in one write. */
    wr64(img + pd + REGF_NK_LAST_WRITTEN, timestamp);
    wr32(img + pd + REGF_NK_SUBKEY_COUNT, k->count + 1); /* the nk's count + 1, as Python */
    wr32(img + pd + REGF_NK_SUBKEY_LIST, list_field);
    cur = rd16(img + pd + REGF_NK_MAX_NAME_LEN);
    if (name_bytes > cur) wr16(img + pd + REGF_NK_MAX_NAME_LEN, (uint16_t)name_bytes);
    regf_alloc_touch(a, pd + REGF_NK_LAST_WRITTEN,
                     REGF_NK_MAX_CLASS_LEN + REGF_NK_MAX_CLASS_LEN_BYTES - REGF_NK_LAST_WRITTEN);
    return nk;
}

int64_t regf_alloc_open_key(regf_alloc *a, uint8_t *img, size_t len, int64_t parent,
                            const uint8_t *name16, size_t units, uint64_t timestamp,
                            int create, int fresh, int64_t *st, int64_t *aux) {
    lookup_t k;
    int64_t nk;
    *aux = 0;
    if (fresh) { /* the first call for this name: no reference taken, nothing allocated */
        st[0] = 0;
        st[1] = st[2] = -1;
    }
    if (key_lookup(a, img, len, parent, name16, units, &k)) return REGF_SV_FALLBACK;
    if (k.hit) return rd32(img + LH_ELEM(cell_data(k.leaf), k.pos) + REGF_LH_ELEM_CELL);
    if (!create) return -1;
    nk = create_at(a, img, len, parent, name16, units, timestamp, st, aux, &k);
    return nk < 0 ? nk : nk + REGF_CREATED;
}
