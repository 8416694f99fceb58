/*
 * regf cell allocator core: see alloc.h, and the module docstring of regf/cells/alloc.py
 * for the policy (that Python class is the specification this file must match exactly).
 *
 * Data structures (no operation scans the hive):
 *   - two open-addressing hash tables: free-cell start -> node and free-cell end -> node
 *     (the following and the preceding free neighbour of a freed cell in O(1));
 *   - per size class, a treap of its free cells keyed by address and augmented with the
 *     largest size in each subtree. The Python twin keeps a sorted list per class and takes
 *     its first element (exact classes and classes above the request's) or walks its own
 *     bucket in address order for the first cell that fits; "leftmost node" and "leftmost
 *     node whose size >= total" give the same cells in O(log n);
 *   - a bit mask of non-empty classes, the bins as start/end arrays with a page -> bin
 *     table (bins are whole pages, so index checks find the bin in O(1)) and a dirty
 *     bitmap with one bit per 4 KiB page of the file.
 * Every mutating call first reserves the memory it may need, so an out-of-memory error
 * (REGF_ALLOC_E_NOMEM) always leaves the allocator and the image unchanged.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "cells.h"

#define MIN_CELL 8u
#define NUM_CLASSES 24
#define MAX_HBINS 0x80000000u

#define NIL (-1)
#define EMPTY_KEY 0xFFFFFFFFu

typedef struct {
    uint32_t start, size;
    uint32_t maxsz; /* largest size in this subtree */
    uint32_t prio;
    int32_t l, r; /* children; l doubles as the free-node list link */
} node_t;

typedef struct {
    uint32_t *keys;
    int32_t *vals;
    uint32_t cap; /* power of two, or 0 */
    uint32_t bits;
    uint32_t n;
} htab_t;

struct regf_alloc {
    uint32_t hbins_size;
    uint32_t *bin_starts, *bin_ends;
    size_t nbins, bins_cap;
    uint32_t *page_bin; /* hive-bins page (offset / 4096) -> index of its bin */
    size_t pages_cap;
    node_t *nodes;
    size_t nodes_cap, nodes_used;
    int32_t free_node;
    htab_t by_start, by_end;
    int32_t root[NUM_CLASSES];
    uint32_t mask; /* bit k set <=> class k non-empty */
    uint64_t free_bytes, cells_bytes;
    uint64_t *dirty;
    size_t dirty_words, ndirty;
    uint32_t rng;
};

static int bit_length(uint32_t x) {
#if defined(__GNUC__) || defined(__clang__)
    return x ? 32 - __builtin_clz(x) : 0;
#else
    int n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
#endif
}

static int lowest_bit(uint32_t x) { /* x != 0 */
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(x);
#else
    int n = 0;
    while (!(x & 1u)) {
        n++;
        x >>= 1;
    }
    return n;
#endif
}

/* Same as size_class() in alloc.py: exact classes below 136 bytes, then power-of-two
 * buckets, the last (23) unbounded (fmt section 8.1). */
static int size_class(uint32_t size) {
    uint32_t units = (size >> 3) - 1;
    int k;
    if (units < 16) return (int)units;
    k = 16 + bit_length(units) - 5;
    return k < NUM_CLASSES - 1 ? k : NUM_CLASSES - 1;
}

/* ---- hash tables (linear probing, backward-shift deletion) ------------------------------ */

static uint32_t ht_slot(const htab_t *h, uint32_t key) {
    return (uint32_t)((key * 0x9E3779B1u) >> (32 - h->bits));
}

static int32_t ht_get(const htab_t *h, uint32_t key) {
    uint32_t m, i;
    if (!h->n) return NIL;
    m = h->cap - 1;
    for (i = ht_slot(h, key);; i = (i + 1) & m) {
        if (h->keys[i] == key) return h->vals[i];
        if (h->keys[i] == EMPTY_KEY) return NIL;
    }
}

static void ht_put(htab_t *h, uint32_t key, int32_t val) { /* key absent, room reserved */
    uint32_t m = h->cap - 1, i = ht_slot(h, key);
    while (h->keys[i] != EMPTY_KEY) i = (i + 1) & m;
    h->keys[i] = key;
    h->vals[i] = val;
    h->n++;
}

static void ht_del(htab_t *h, uint32_t key) { /* key present */
    uint32_t m = h->cap - 1, i = ht_slot(h, key), j, home;
    while (h->keys[i] != key) i = (i + 1) & m;
    j = i;
    for (;;) {
        int stays;
        j = (j + 1) & m;
        if (h->keys[j] == EMPTY_KEY) break;
        home = ht_slot(h, h->keys[j]);
        /* The entry at j may move back to the hole at i unless its home slot lies
         * cyclically in (i, j]. */
        stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            h->keys[i] = h->keys[j];
            h->vals[i] = h->vals[j];
            i = j;
        }
    }
    h->keys[i] = EMPTY_KEY;
    h->n--;
}

static int ht_reserve(htab_t *h, uint32_t extra) {
    uint32_t want = h->n + extra, cap = h->cap ? h->cap : 16, bits, i;
    uint32_t *keys, *old_keys;
    int32_t *vals, *old_vals;
    uint32_t old_cap;
    if (h->cap && (uint64_t)want * 2 <= h->cap) return 0;
    while ((uint64_t)want * 2 > cap) cap *= 2;
    bits = (uint32_t)bit_length(cap) - 1;
    keys = malloc((size_t)cap * sizeof *keys);
    vals = malloc((size_t)cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    memset(keys, 0xFF, (size_t)cap * sizeof *keys);
    old_keys = h->keys;
    old_vals = h->vals;
    old_cap = h->cap;
    h->keys = keys;
    h->vals = vals;
    h->cap = cap;
    h->bits = bits;
    h->n = 0;
    for (i = 0; i < old_cap; i++)
        if (old_keys[i] != EMPTY_KEY) ht_put(h, old_keys[i], old_vals[i]);
    free(old_keys);
    free(old_vals);
    return 0;
}

/* ---- treaps of free cells ------------------------------------------------------------- */

static uint32_t maxsz_of(const regf_alloc *a, int32_t t) {
    return t == NIL ? 0 : a->nodes[t].maxsz;
}

static void pull(regf_alloc *a, int32_t t) {
    node_t *n = &a->nodes[t];
    uint32_t m = n->size, x = maxsz_of(a, n->l);
    if (x > m) m = x;
    x = maxsz_of(a, n->r);
    if (x > m) m = x;
    n->maxsz = m;
}

/* Split t into keys < key (*lo) and keys >= key (*hi). */
static void tr_split(regf_alloc *a, int32_t t, uint32_t key, int32_t *lo, int32_t *hi) {
    if (t == NIL) {
        *lo = *hi = NIL;
        return;
    }
    if (a->nodes[t].start < key) {
        int32_t r;
        tr_split(a, a->nodes[t].r, key, &r, hi);
        a->nodes[t].r = r;
        *lo = t;
    } else {
        int32_t l;
        tr_split(a, a->nodes[t].l, key, lo, &l);
        a->nodes[t].l = l;
        *hi = t;
    }
    pull(a, t);
}

/* Join x and y, every key of x below every key of y. */
static int32_t tr_merge(regf_alloc *a, int32_t x, int32_t y) {
    if (x == NIL) return y;
    if (y == NIL) return x;
    if (a->nodes[x].prio > a->nodes[y].prio) {
        int32_t r = tr_merge(a, a->nodes[x].r, y);
        a->nodes[x].r = r;
        pull(a, x);
        return x;
    } else {
        int32_t l = tr_merge(a, x, a->nodes[y].l);
        a->nodes[y].l = l;
        pull(a, y);
        return y;
    }
}

static int32_t tr_insert(regf_alloc *a, int32_t t, int32_t n) {
    if (t == NIL) return n;
    if (a->nodes[n].prio > a->nodes[t].prio) {
        int32_t lo, hi;
        tr_split(a, t, a->nodes[n].start, &lo, &hi);
        a->nodes[n].l = lo;
        a->nodes[n].r = hi;
        pull(a, n);
        return n;
    }
    if (a->nodes[n].start < a->nodes[t].start) {
        int32_t l = tr_insert(a, a->nodes[t].l, n);
        a->nodes[t].l = l;
    } else {
        int32_t r = tr_insert(a, a->nodes[t].r, n);
        a->nodes[t].r = r;
    }
    pull(a, t);
    return t;
}

static int32_t tr_erase(regf_alloc *a, int32_t t, uint32_t key) { /* key present */
    if (a->nodes[t].start == key) return tr_merge(a, a->nodes[t].l, a->nodes[t].r);
    if (key < a->nodes[t].start) {
        int32_t l = tr_erase(a, a->nodes[t].l, key);
        a->nodes[t].l = l;
    } else {
        int32_t r = tr_erase(a, a->nodes[t].r, key);
        a->nodes[t].r = r;
    }
    pull(a, t);
    return t;
}

/* Lowest-address node whose size >= total, or NIL. */
static int32_t tr_first_fit(const regf_alloc *a, int32_t t, uint32_t total) {
    if (maxsz_of(a, t) < total) return NIL;
    for (;;) {
        const node_t *n = &a->nodes[t];
        if (maxsz_of(a, n->l) >= total)
            t = n->l;
        else if (n->size >= total)
            return t;
        else
            t = n->r; /* its maxsz must be >= total */
    }
}

static int32_t tr_leftmost(const regf_alloc *a, int32_t t) {
    while (a->nodes[t].l != NIL) t = a->nodes[t].l;
    return t;
}

/* ---- free-cell bookkeeping ------------------------------------------------------------ */

/* Room for `extra` more free cells without any allocation on the way. */
static int reserve_cells(regf_alloc *a, uint32_t extra) {
    /* the common case first: the tables are under half full (ht_reserve's test) */
    if (a->nodes_used + extra <= a->nodes_cap &&
        a->by_start.cap && (uint64_t)(a->by_start.n + extra) * 2 <= a->by_start.cap &&
        a->by_end.cap && (uint64_t)(a->by_end.n + extra) * 2 <= a->by_end.cap)
        return 0;
    if (a->nodes_used + extra > a->nodes_cap) {
        size_t cap = a->nodes_cap ? a->nodes_cap : 64;
        node_t *p;
        while (a->nodes_used + extra > cap) cap *= 2;
        p = realloc(a->nodes, cap * sizeof *p);
        if (!p) return -1;
        a->nodes = p;
        a->nodes_cap = cap;
    }
    if (ht_reserve(&a->by_start, extra) || ht_reserve(&a->by_end, extra)) return -1;
    return 0;
}

static int32_t node_new(regf_alloc *a, uint32_t start, uint32_t size) {
    int32_t n;
    node_t *p;
    if (a->free_node != NIL) {
        n = a->free_node;
        a->free_node = a->nodes[n].l;
    } else {
        n = (int32_t)a->nodes_used++;
    }
    /* xorshift32: any priorities give a correct treap; these keep it balanced. */
    a->rng ^= a->rng << 13;
    a->rng ^= a->rng >> 17;
    a->rng ^= a->rng << 5;
    p = &a->nodes[n];
    p->start = start;
    p->size = size;
    p->maxsz = size;
    p->prio = a->rng;
    p->l = p->r = NIL;
    return n;
}

/* Record a free cell (bookkeeping only; the caller writes its size field). */
static void file_cell(regf_alloc *a, uint32_t start, uint32_t size) {
    int32_t n = node_new(a, start, size);
    int k = size_class(size);
    ht_put(&a->by_start, start, n);
    ht_put(&a->by_end, start + size, n);
    a->root[k] = tr_insert(a, a->root[k], n);
    a->mask |= 1u << k;
    a->free_bytes += size;
}

/* Forget the free cell of node n; return its size. */
static uint32_t unfile_node(regf_alloc *a, int32_t n) {
    uint32_t start = a->nodes[n].start, size = a->nodes[n].size;
    int k = size_class(size);
    ht_del(&a->by_start, start);
    ht_del(&a->by_end, start + size);
    a->root[k] = tr_erase(a, a->root[k], start);
    if (a->root[k] == NIL) a->mask &= ~(1u << k);
    a->free_bytes -= size;
    a->nodes[n].l = a->free_node;
    a->free_node = n;
    return size;
}

/* Recompute maxsz on the path from t down to the node whose start is key (present). */
static void tr_refresh(regf_alloc *a, int32_t t, uint32_t key) {
    uint32_t s = a->nodes[t].start;
    if (key < s)
        tr_refresh(a, a->nodes[t].l, key);
    else if (key > s)
        tr_refresh(a, a->nodes[t].r, key);
    pull(a, t);
}

/* Free cell node n loses its first `cut` bytes, its class unchanged: the node moves to
 * start + cut in place (no free cell lies inside it, so its place in the
 * address-ordered treap holds) and the end table already points at it. Room in the
 * start table is reserved by the caller, as for file_cell. */
static void shrink_front(regf_alloc *a, int32_t n, uint32_t cut) {
    node_t *p = &a->nodes[n];
    uint32_t start = p->start;
    int k = size_class(p->size);
    ht_del(&a->by_start, start);
    ht_put(&a->by_start, start + cut, n);
    p->start = start + cut;
    p->size -= cut;
    tr_refresh(a, a->root[k], p->start);
    a->free_bytes -= cut;
}

/* Node of the free cell serving a total-byte request, or NIL (alloc.py _find). The node,
 * not its start: the caller needs the node and would look it up again. */
static int32_t find_cell(const regf_alloc *a, uint32_t total) {
    int k = size_class(total);
    uint32_t above;
    if (k >= 16 && (a->mask >> k & 1u)) {
        /* Own bucket: the first cell in address order that fits. */
        int32_t n = tr_first_fit(a, a->root[k], total);
        if (n != NIL) return n;
        k++;
    }
    above = k >= NUM_CLASSES ? 0 : a->mask >> k << k;
    if (!above) return NIL;
    return tr_leftmost(a, a->root[lowest_bit(above)]);
}

/* ---- dirty pages ---------------------------------------------------------------------- */

static int reserve_dirty(regf_alloc *a, uint64_t file_len) {
    size_t words = (size_t)((file_len / REGF_PAGE + 64) / 64);
    if (words > a->dirty_words) {
        uint64_t *p = realloc(a->dirty, words * sizeof *p);
        if (!p) return -1;
        memset(p + a->dirty_words, 0, (words - a->dirty_words) * sizeof *p);
        a->dirty = p;
        a->dirty_words = words;
    }
    return 0;
}

static int lowest_bit64(uint64_t x) { /* x != 0 */
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int n = 0;
    while (!(x & 1u)) {
        n++;
        x >>= 1;
    }
    return n;
#endif
}

/* SWAR bit count: __builtin_popcountll is a library call (__popcountdi2) on a baseline
 * x86-64 build, and this runs on every dirty-page mark. */
static int popcount64(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Fu;
    return (int)((x * 0x0101010101010101u) >> 56);
}

/* touch's pages p..p1 (p < p1), out of line: the one-page case below is inlined. */
static void touch_span(regf_alloc *a, uint64_t p, uint64_t p1) {
    while (p <= p1) {
        size_t w = (size_t)(p / 64);
        unsigned b = (unsigned)(p % 64);
        uint64_t span = p1 - p + 1, bits;
        if (b == 0 && span >= 64) {
            bits = ~(uint64_t)0;
            p += 64;
        } else {
            unsigned n = span < 64u - b ? (unsigned)span : 64u - b;
            bits = (n == 64 ? ~(uint64_t)0 : (((uint64_t)1 << n) - 1)) << b;
            p += n;
        }
        a->ndirty += (size_t)popcount64(bits & ~a->dirty[w]);
        a->dirty[w] |= bits;
    }
}

/* Mark the pages spanned by len bytes at file offset off (inside the reserved range). */
static inline void touch(regf_alloc *a, uint64_t off, uint64_t len) {
    uint64_t p, p1;
    if (!len) return;
    p = off / REGF_PAGE;
    p1 = (off + len - 1) / REGF_PAGE;
    if (p == p1) { /* most writes stay inside one page */
        uint64_t bit = (uint64_t)1 << (p % 64);
        uint64_t *w = &a->dirty[p / 64];
        if (!(*w & bit)) {
            *w |= bit;
            a->ndirty++;
        }
        return;
    }
    touch_span(a, p, p1);
}

void regf_alloc_touch(regf_alloc *a, uint64_t off, uint64_t len) { touch(a, off, len); }

/* ---- lifecycle and load --------------------------------------------------------------- */

regf_alloc *regf_alloc_new(void) {
    regf_alloc *a = calloc(1, sizeof *a);
    int k;
    if (!a) return NULL;
    a->free_node = NIL;
    for (k = 0; k < NUM_CLASSES; k++) a->root[k] = NIL;
    a->rng = 0x2545F491u;
    return a;
}

void regf_alloc_delete(regf_alloc *a) {
    if (!a) return;
    free(a->bin_starts);
    free(a->bin_ends);
    free(a->page_bin);
    free(a->nodes);
    free(a->by_start.keys);
    free(a->by_start.vals);
    free(a->by_end.keys);
    free(a->by_end.vals);
    free(a->dirty);
    free(a);
}

/* Room for one more bin and for the page table up to hive-bins size `end`. */
static int reserve_bins(regf_alloc *a, size_t extra, uint64_t end) {
    size_t pages = (size_t)(end / REGF_PAGE);
    if (pages > a->pages_cap) {
        size_t cap = a->pages_cap ? a->pages_cap * 2 : 64;
        uint32_t *p;
        while (pages > cap) cap *= 2;
        p = realloc(a->page_bin, cap * sizeof *p);
        if (!p) return -1;
        a->page_bin = p;
        a->pages_cap = cap;
    }
    if (a->nbins + extra > a->bins_cap) {
        size_t cap = a->bins_cap ? a->bins_cap * 2 : 16;
        uint32_t *s, *e;
        while (a->nbins + extra > cap) cap *= 2;
        s = realloc(a->bin_starts, cap * sizeof *s);
        if (!s) return -1;
        a->bin_starts = s;
        e = realloc(a->bin_ends, cap * sizeof *e);
        if (!e) return -1;
        a->bin_ends = e;
        a->bins_cap = cap;
    }
    return 0;
}

/* Append a bin (room reserved by reserve_bins). */
static void add_bin(regf_alloc *a, uint64_t start, uint64_t end) {
    uint64_t pg;
    for (pg = start / REGF_PAGE; pg < end / REGF_PAGE; pg++) a->page_bin[pg] = (uint32_t)a->nbins;
    a->bin_starts[a->nbins] = (uint32_t)start;
    a->bin_ends[a->nbins] = (uint32_t)end;
    a->nbins++;
}

int regf_alloc_load(regf_alloc *a, const uint8_t *img, size_t len, int64_t hbins_arg,
                    int64_t *aux) {
    uint64_t hb, off = 0;
    *aux = 0;
    if (len < REGF_BASE_BLOCK_SIZE) return REGF_ALLOC_E_SHORT_BASE;
    hb = hbins_arg < 0 ? rd32(img + REGF_BASE_HBINS_SIZE) : (uint64_t)hbins_arg;
    if (hb % REGF_PAGE || hb >= MAX_HBINS || REGF_HBINS_OFFSET + hb > len) {
        *aux = REGF_BASE_HBINS_SIZE;
        return REGF_ALLOC_E_HBINS_SIZE;
    }
    a->hbins_size = (uint32_t)hb;
    if (reserve_dirty(a, REGF_HBINS_OFFSET + hb)) return REGF_ALLOC_E_NOMEM;
    while (off < hb) {
        const uint8_t *p = img + REGF_HBINS_OFFSET + off;
        uint64_t size = rd32(p + REGF_HBIN_SIZE), end, cell;
        if (!HAS_SIG(p, HBIN) || size < REGF_PAGE || size % REGF_PAGE || off + size > hb) {
            *aux = (int64_t)(REGF_HBINS_OFFSET + off);
            return REGF_ALLOC_E_BIN_HEADER;
        }
        if (rd32(p + REGF_HBIN_OFFSET) != off) {
            *aux = (int64_t)(REGF_HBINS_OFFSET + off);
            return REGF_ALLOC_E_BIN_OFFSET;
        }
        end = off + size;
        for (cell = off + REGF_HBIN_FIXED_SIZE; cell < end;) {
            int64_t csize = rd_i32(img + REGF_HBINS_OFFSET + cell + REGF_CELL_SIZE);
            uint64_t n = csize < 0 ? (uint64_t)(-csize) : (uint64_t)csize;
            if (n < MIN_CELL || n % 8 || cell + n > end) {
                *aux = (int64_t)(REGF_HBINS_OFFSET + cell);
                return REGF_ALLOC_E_TILING;
            }
            if (csize > 0) {
                if (reserve_cells(a, 1)) return REGF_ALLOC_E_NOMEM;
                file_cell(a, (uint32_t)cell, (uint32_t)n);
            }
            cell += n;
        }
        if (reserve_bins(a, 1, end)) return REGF_ALLOC_E_NOMEM;
        add_bin(a, off, end);
        a->cells_bytes += size - REGF_HBIN_FIXED_SIZE;
        off = end;
    }
    return 0;
}

/* ---- operations ----------------------------------------------------------------------- */

static int image_ok(const regf_alloc *a, size_t len) {
    return (uint64_t)len >= (uint64_t)REGF_HBINS_OFFSET + a->hbins_size;
}

int regf_alloc_image_ok(const regf_alloc *a, size_t len) { return image_ok(a, len); }

static void set_size(regf_alloc *a, uint8_t *img, uint32_t index, int64_t size) {
    wr32(img + REGF_HBINS_OFFSET + index + REGF_CELL_SIZE, (uint32_t)size);
    touch(a, (uint64_t)REGF_HBINS_OFFSET + index + REGF_CELL_SIZE, REGF_CELL_SIZE_BYTES);
}

/* alloc.py _grow: append a bin for a total-byte cell; its rest is one free cell. */
static int grow(regf_alloc *a, uint8_t *img, size_t len, uint64_t total, int64_t *aux) {
    uint64_t size = (total + REGF_HBIN_FIXED_SIZE + REGF_PAGE - 1) / REGF_PAGE * REGF_PAGE;
    uint64_t start = a->hbins_size, end = start + size, need = REGF_HBINS_OFFSET + end;
    uint8_t *p;
    if (end >= MAX_HBINS) {
        *aux = (int64_t)end;
        return REGF_ALLOC_E_HIVE_FULL;
    }
    if ((uint64_t)len < need) {
        *aux = (int64_t)need;
        return REGF_ALLOC_NEED_GROW;
    }
    if (reserve_bins(a, 1, end) || reserve_dirty(a, need)) return REGF_ALLOC_E_NOMEM;
    p = img + REGF_HBINS_OFFSET + start;
    /* Bytes after the old end may be file slack: clear the whole new bin. Reserved,
     * timestamp and spare stay zero (fmt section 2). */
    memset(p, 0, (size_t)size);
    PUT_SIG(p, HBIN);
    wr32(p + REGF_HBIN_OFFSET, (uint32_t)start);
    wr32(p + REGF_HBIN_SIZE, (uint32_t)size);
    wr32(p + REGF_HBIN_FIXED_SIZE + REGF_CELL_SIZE, (uint32_t)(size - REGF_HBIN_FIXED_SIZE));
    touch(a, REGF_HBINS_OFFSET + start, size);
    a->hbins_size = (uint32_t)end;
    wr32(img + REGF_BASE_HBINS_SIZE, (uint32_t)end);
    touch(a, REGF_BASE_HBINS_SIZE, 4);
    add_bin(a, start, end);
    a->cells_bytes += size - REGF_HBIN_FIXED_SIZE;
    file_cell(a, (uint32_t)(start + REGF_HBIN_FIXED_SIZE), (uint32_t)(size - REGF_HBIN_FIXED_SIZE));
    return 0;
}

/* Checked payload -> cell size, or an error code. */
static int64_t total_for(int64_t payload) {
    int64_t total;
    if (payload < 0) return REGF_ALLOC_E_NEG_LEN;
    if (payload >= (int64_t)MAX_HBINS) return REGF_ALLOC_E_TOO_LARGE;
    total = (payload + REGF_CELL_FIXED_SIZE + 7) & ~(int64_t)7;
    if (total < (int64_t)MIN_CELL) total = MIN_CELL;
    if (total + REGF_HBIN_FIXED_SIZE >= (int64_t)MAX_HBINS) return REGF_ALLOC_E_TOO_LARGE;
    return total;
}

/* Allocation proper; cells and bins reserved by the caller. */
static int64_t alloc_total(regf_alloc *a, uint8_t *img, size_t len, uint32_t total,
                           int64_t *aux) {
    int32_t n = find_cell(a, total);
    uint32_t size, rest, start;
    if (n == NIL) {
        int rc = grow(a, img, len, total, aux);
        if (rc < 0) return rc;
        n = find_cell(a, total);
    }
    start = a->nodes[n].start;
    size = a->nodes[n].size;
    rest = size - total;
    if (rest && size_class(rest) == size_class(size)) {
        /* The remainder stays in the cell's class (splitting a bin's big tail cell, the
         * usual case): the same free cells as unfile + file, updated in place. */
        shrink_front(a, n, total);
        set_size(a, img, (uint32_t)start + total, rest);
    } else if (rest) {
        /* Any remainder is >= 8 bytes and stays free, even an 8-byte one (fmt 8.1). */
        unfile_node(a, n);
        set_size(a, img, (uint32_t)start + total, rest);
        file_cell(a, (uint32_t)start + total, rest);
    } else {
        unfile_node(a, n);
        total = size;
    }
    set_size(a, img, (uint32_t)start, -(int64_t)total);
    memset(img + REGF_HBINS_OFFSET + start + REGF_CELL_FIXED_SIZE, 0, total - REGF_CELL_FIXED_SIZE);
    touch(a, (uint64_t)REGF_HBINS_OFFSET + (uint64_t)start + REGF_CELL_FIXED_SIZE, total - REGF_CELL_FIXED_SIZE);
    return start;
}

int64_t regf_alloc_alloc(regf_alloc *a, uint8_t *img, size_t len, int64_t payload,
                         int64_t *aux) {
    int64_t total = total_for(payload);
    *aux = 0;
    if (total < 0) return total;
    if (!image_ok(a, len)) return REGF_ALLOC_E_IMAGE;
    if (reserve_cells(a, 2)) return REGF_ALLOC_E_NOMEM;
    return alloc_total(a, img, len, (uint32_t)total, aux);
}

int64_t regf_alloc_check(const regf_alloc *a, const uint8_t *img, size_t len, int64_t index) {
    size_t i;
    int64_t size;
    if (!image_ok(a, len)) return REGF_ALLOC_E_IMAGE;
    if (index < 0 || index % 8 || index + (int64_t)MIN_CELL > (int64_t)a->hbins_size)
        return REGF_ALLOC_E_RANGE;
    /* The bin holding index (Python: bisect_right(bin_starts, index) - 1): bins tile
     * the hive bins in whole pages, so the page says. */
    i = a->page_bin[(size_t)index / REGF_PAGE];
    if (index < (int64_t)a->bin_starts[i] + (int64_t)REGF_HBIN_FIXED_SIZE) return REGF_ALLOC_E_HEADER;
    size = rd_i32(img + REGF_HBINS_OFFSET + index + REGF_CELL_SIZE);
    if (size >= 0) return REGF_ALLOC_E_FREE;
    size = -size;
    if (size < (int64_t)MIN_CELL || size % 8 || index + size > (int64_t)a->bin_ends[i])
        return REGF_ALLOC_E_BAD_SIZE;
    return size;
}

/* Free a checked cell of the given size; cells reserved by the caller. */
static void free_checked(regf_alloc *a, uint8_t *img, uint32_t index, uint32_t size) {
    uint32_t orig = size, start = index, nxt = index + size;
    int32_t next, prev;
    /* The freed cell's own size goes positive first; when merged into a preceding cell
     * it survives as a remnant inside the free cell. */
    set_size(a, img, index, size);
    next = ht_get(&a->by_start, nxt);
    if (next != NIL) size += unfile_node(a, next);
    prev = ht_get(&a->by_end, index);
    if (prev != NIL) {
        start = a->nodes[prev].start;
        size += unfile_node(a, prev);
    }
    if (start != index || size != orig) set_size(a, img, start, size);
    file_cell(a, start, size);
}

int regf_alloc_free(regf_alloc *a, uint8_t *img, size_t len, int64_t index) {
    int64_t size = regf_alloc_check(a, img, len, index);
    if (size < 0) return (int)size;
    if (reserve_cells(a, 1)) return REGF_ALLOC_E_NOMEM;
    free_checked(a, img, (uint32_t)index, (uint32_t)size);
    return 0;
}

int64_t regf_alloc_realloc(regf_alloc *a, uint8_t *img, size_t len, int64_t index,
                           int64_t payload, int64_t *aux) {
    int64_t size, total, new_index;
    *aux = 0;
    if (payload < 0) return REGF_ALLOC_E_NEG_LEN;
    size = regf_alloc_check(a, img, len, index);
    if (size < 0) return size;
    total = total_for(payload);
    if (total >= 0 && total <= size) return index; /* never shrink */
    if (total < 0) return total;
    if (reserve_cells(a, 3)) return REGF_ALLOC_E_NOMEM;
    new_index = alloc_total(a, img, len, (uint32_t)total, aux);
    if (new_index < 0) return new_index; /* nothing changed (need-grow, hive full) */
    memcpy(img + REGF_HBINS_OFFSET + new_index + REGF_CELL_FIXED_SIZE, img + REGF_HBINS_OFFSET + index + REGF_CELL_FIXED_SIZE,
           (size_t)size - REGF_CELL_FIXED_SIZE);
    touch(a, (uint64_t)REGF_HBINS_OFFSET + (uint64_t)new_index + REGF_CELL_FIXED_SIZE,
          (uint64_t)size - REGF_CELL_FIXED_SIZE);
    free_checked(a, img, (uint32_t)index, (uint32_t)size);
    return new_index;
}

int regf_alloc_write(regf_alloc *a, uint8_t *img, size_t len, int64_t index, int64_t off,
                     const uint8_t *data, size_t n) {
    int64_t size = regf_alloc_check(a, img, len, index);
    uint64_t at;
    if (size < 0) return (int)size;
    if (off < 0 || (uint64_t)off + n > (uint64_t)size - REGF_CELL_FIXED_SIZE)
        return REGF_ALLOC_E_OVERFLOW;
    at = (uint64_t)REGF_HBINS_OFFSET + (uint64_t)index + REGF_CELL_FIXED_SIZE + (uint64_t)off;
    if (n) {
        memmove(img + at, data, n);
        touch(a, at, n);
    }
    return 0;
}

/* ---- inspection ----------------------------------------------------------------------- */

uint32_t regf_alloc_hbins_size(const regf_alloc *a) { return a->hbins_size; }

void regf_alloc_stats(const regf_alloc *a, uint64_t *out) {
    out[0] = a->cells_bytes - a->free_bytes;
    out[1] = a->free_bytes;
    out[2] = a->by_start.n;
}

size_t regf_alloc_nbins(const regf_alloc *a) { return a->nbins; }
size_t regf_alloc_nfree(const regf_alloc *a) { return a->by_start.n; }
size_t regf_alloc_ndirty(const regf_alloc *a) { return a->ndirty; }

size_t regf_alloc_bins(const regf_alloc *a, uint32_t *starts, uint32_t *ends, size_t cap) {
    size_t i;
    for (i = 0; i < a->nbins && i < cap; i++) {
        starts[i] = a->bin_starts[i];
        ends[i] = a->bin_ends[i];
    }
    return a->nbins;
}

void regf_alloc_scrub(const regf_alloc *a, uint8_t *out, uint64_t lo, uint64_t len) {
    size_t i;
    uint64_t hi = lo + len;
    /* Every free cell, in hash order: they do not overlap, so the order is free. */
    for (i = 0; i < a->by_start.cap; i++) {
        uint64_t s, e;
        if (a->by_start.keys[i] == EMPTY_KEY) continue;
        s = (uint64_t)a->by_start.keys[i] + REGF_CELL_FIXED_SIZE;
        e = (uint64_t)a->by_start.keys[i] + a->nodes[a->by_start.vals[i]].size;
        if (s < lo) s = lo;
        if (e > hi) e = hi;
        if (s < e) memset(out + (s - lo), 0, (size_t)(e - s));
    }
}

size_t regf_alloc_free_cells(const regf_alloc *a, uint32_t *starts, uint32_t *sizes,
                             size_t cap) {
    size_t i, k = 0;
    for (i = 0; i < a->by_start.cap; i++) {
        if (a->by_start.keys[i] == EMPTY_KEY) continue;
        if (k < cap) {
            starts[k] = a->by_start.keys[i];
            sizes[k] = a->nodes[a->by_start.vals[i]].size;
        }
        k++;
    }
    return k;
}

size_t regf_alloc_dirty(regf_alloc *a, uint32_t *out, size_t cap, int clear) {
    size_t w, k = 0;
    for (w = 0; w < a->dirty_words; w++) {
        uint64_t bits = a->dirty[w];
        while (bits) {
            if (k < cap) out[k] = (uint32_t)(w * 64 + (size_t)lowest_bit64(bits));
            k++;
            bits &= bits - 1;
        }
    }
    if (clear && k <= cap) {
        memset(a->dirty, 0, a->dirty_words * sizeof *a->dirty);
        a->ndirty = 0;
    }
    return k;
}