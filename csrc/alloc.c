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

/* Windows' upcase table (csrc/regf_accel.c, same extension), indexed directly in the
 * name loops below: set by regf_alloc_new, before any of them can run. */
const uint16_t *regf_upcase_table(void);
static const uint16_t *upcase;

#define BASE 4096u
#define PAGE 4096u
#define HBINS_SIZE_OFFSET 0x28u
#define HBIN_HEADER 0x20u
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

/* ---- little-endian helpers ------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int32_t rdi32(const uint8_t *p) {
    uint32_t u = rd32(p);
    return u >= 0x80000000u ? (int32_t)(u - 0x80000000u) - 0x7FFFFFFF - 1 : (int32_t)u;
}

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
    size_t words = (size_t)((file_len / PAGE + 64) / 64);
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
    p = off / PAGE;
    p1 = (off + len - 1) / PAGE;
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

/* ---- lifecycle and load --------------------------------------------------------------- */

regf_alloc *regf_alloc_new(void) {
    regf_alloc *a = calloc(1, sizeof *a);
    int k;
    if (!a) return NULL;
    a->free_node = NIL;
    for (k = 0; k < NUM_CLASSES; k++) a->root[k] = NIL;
    a->rng = 0x2545F491u;
    upcase = regf_upcase_table();
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
    size_t pages = (size_t)(end / PAGE);
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
    for (pg = start / PAGE; pg < end / PAGE; pg++) a->page_bin[pg] = (uint32_t)a->nbins;
    a->bin_starts[a->nbins] = (uint32_t)start;
    a->bin_ends[a->nbins] = (uint32_t)end;
    a->nbins++;
}

int regf_alloc_load(regf_alloc *a, const uint8_t *img, size_t len, int64_t hbins_arg,
                    int64_t *aux) {
    uint64_t hb, off = 0;
    *aux = 0;
    if (len < BASE) return REGF_ALLOC_E_SHORT_BASE;
    hb = hbins_arg < 0 ? rd32(img + HBINS_SIZE_OFFSET) : (uint64_t)hbins_arg;
    if (hb % PAGE || hb >= MAX_HBINS || BASE + hb > len) {
        *aux = HBINS_SIZE_OFFSET;
        return REGF_ALLOC_E_HBINS_SIZE;
    }
    a->hbins_size = (uint32_t)hb;
    if (reserve_dirty(a, BASE + hb)) return REGF_ALLOC_E_NOMEM;
    while (off < hb) {
        const uint8_t *p = img + BASE + off;
        uint64_t size = rd32(p + 8), end, cell;
        if (memcmp(p, "hbin", 4) != 0 || size < PAGE || size % PAGE || off + size > hb) {
            *aux = (int64_t)(BASE + off);
            return REGF_ALLOC_E_BIN_HEADER;
        }
        if (rd32(p + 4) != off) {
            *aux = (int64_t)(BASE + off);
            return REGF_ALLOC_E_BIN_OFFSET;
        }
        end = off + size;
        for (cell = off + HBIN_HEADER; cell < end;) {
            int32_t csize = rdi32(img + BASE + cell);
            uint64_t n = csize < 0 ? (uint64_t)(-(int64_t)csize) : (uint64_t)csize;
            if (n < MIN_CELL || n % 8 || cell + n > end) {
                *aux = (int64_t)(BASE + cell);
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
        a->cells_bytes += size - HBIN_HEADER;
        off = end;
    }
    return 0;
}

/* ---- operations ----------------------------------------------------------------------- */

static int image_ok(const regf_alloc *a, size_t len) {
    return (uint64_t)len >= (uint64_t)BASE + a->hbins_size;
}

static void set_size(regf_alloc *a, uint8_t *img, uint32_t index, int64_t size) {
    wr32(img + BASE + index, (uint32_t)size);
    touch(a, (uint64_t)BASE + index, 4);
}

/* alloc.py _grow: append a bin for a total-byte cell; its rest is one free cell. */
static int grow(regf_alloc *a, uint8_t *img, size_t len, uint64_t total, int64_t *aux) {
    uint64_t size = (total + HBIN_HEADER + PAGE - 1) / PAGE * PAGE;
    uint64_t start = a->hbins_size, end = start + size, need = BASE + end;
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
    p = img + BASE + start;
    /* Bytes after the old end may be file slack: clear the whole new bin. Reserved,
     * timestamp and spare stay zero (fmt section 2). */
    memset(p, 0, (size_t)size);
    memcpy(p, "hbin", 4);
    wr32(p + 4, (uint32_t)start);
    wr32(p + 8, (uint32_t)size);
    wr32(p + HBIN_HEADER, (uint32_t)(size - HBIN_HEADER));
    touch(a, BASE + start, size);
    a->hbins_size = (uint32_t)end;
    wr32(img + HBINS_SIZE_OFFSET, (uint32_t)end);
    touch(a, HBINS_SIZE_OFFSET, 4);
    add_bin(a, start, end);
    a->cells_bytes += size - HBIN_HEADER;
    file_cell(a, (uint32_t)(start + HBIN_HEADER), (uint32_t)(size - HBIN_HEADER));
    return 0;
}

/* Checked payload -> cell size, or an error code. */
static int64_t total_for(int64_t payload) {
    int64_t total;
    if (payload < 0) return REGF_ALLOC_E_NEG_LEN;
    if (payload >= (int64_t)MAX_HBINS) return REGF_ALLOC_E_TOO_LARGE;
    total = (payload + 4 + 7) & ~(int64_t)7;
    if (total < (int64_t)MIN_CELL) total = MIN_CELL;
    if (total + HBIN_HEADER >= (int64_t)MAX_HBINS) return REGF_ALLOC_E_TOO_LARGE;
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
    memset(img + BASE + start + 4, 0, total - 4);
    touch(a, (uint64_t)BASE + (uint64_t)start + 4, total - 4);
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
    i = a->page_bin[(size_t)index / PAGE];
    if (index < (int64_t)a->bin_starts[i] + (int64_t)HBIN_HEADER) return REGF_ALLOC_E_HEADER;
    size = rdi32(img + BASE + index);
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
    memcpy(img + BASE + new_index + 4, img + BASE + index + 4, (size_t)size - 4);
    touch(a, (uint64_t)BASE + (uint64_t)new_index + 4, (uint64_t)size - 4);
    free_checked(a, img, (uint32_t)index, (uint32_t)size);
    return new_index;
}

int regf_alloc_write(regf_alloc *a, uint8_t *img, size_t len, int64_t index, int64_t off,
                     const uint8_t *data, size_t n) {
    int64_t size = regf_alloc_check(a, img, len, index);
    uint64_t at;
    if (size < 0) return (int)size;
    if (off < 0 || (uint64_t)off + n > (uint64_t)size - 4) return REGF_ALLOC_E_OVERFLOW;
    at = (uint64_t)BASE + (uint64_t)index + 4 + (uint64_t)off;
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

/* ---- set_value fast path (twin of regf/model/cellvalues.py set_value) ----------------- */

/* Field offsets inside nk / vk cell data (fmt 4.1, 4.3). */
#define NK_FIXED 76u
#define NKO_LAST_WRITTEN 4u
#define NKO_VALUE_COUNT 36u
#define NKO_VALUE_LIST 40u
#define NKO_MAX_VALUE_NAME 60u
#define NKO_MAX_VALUE_DATA 64u
#define VK_FIXED 20u
#define VK_COMP_NAME 1u
#define BIG_DATA 16344u            /* largest data kept in one cell when db exists */
#define DATA_INLINE 0x80000000u    /* vk data size bit: data in the data field */
#define HCELL_NIL 0xFFFFFFFFu

static uint16_t rd16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* The units of a UTF-16LE name upcased into want (the Windows table: names compare and
 * hash by it); 1 when every unit fits Latin-1, so the name is stored compressed
 * (fmt 4.9), else 0. */
static int upcase_name(const uint8_t *name16, size_t units, uint16_t *want) {
    int latin1 = 1;
    size_t i;
    for (i = 0; i < units; i++) {
        uint16_t u = rd16le(name16 + 2 * i);
        if (u > 0xFF) latin1 = 0;
        want[i] = upcase[u];
    }
    return latin1;
}

static void wr16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* cellvalues._live: file offset of the data of cell idx when idx is aligned and in range
 * and the cell is allocated, holds min_cap bytes and ends inside the hive bins; else 0.
 * (Not the allocator's bin check: these are the cheap checks the Python lookup makes.) */
static uint64_t live_data(const uint8_t *img, uint32_t limit, uint64_t idx, uint32_t min_cap) {
    int64_t size;
    if ((idx & 7u) || idx + 8 > limit) return 0;
    size = rdi32(img + BASE + idx);
    if (size > -(int64_t)(4 + min_cap) || (int64_t)idx - size > (int64_t)limit) return 0;
    return BASE + idx + 4;
}

/* cellvalues.value_list_bytes: the list size ReactOS's CmpAddValueToList asks for. */
static uint32_t value_list_bytes(uint32_t count) {
    uint32_t size;
    if (count < 100) return 4 * count;
    size = 4 * ((count + 99) / 100 * 100);
    if (size > 4096) size = (size + 4095) / 4096 * 4096;
    return size;
}

/* Data size and data field of a vk for data of n <= 4 bytes: inline (fmt 4.3). */
static void inline_fields(const uint8_t *data, size_t n, uint32_t *size, uint32_t *field) {
    uint8_t b[4] = {0, 0, 0, 0};
    if (n) memcpy(b, data, n);
    *size = DATA_INLINE | (uint32_t)n;
    *field = rd32(b);
}

int64_t regf_alloc_set_value(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                             const uint8_t *name16, size_t units, uint32_t vtype,
                             const uint8_t *data, size_t n, uint64_t timestamp,
                             int fresh, int64_t *st, int64_t *aux) {
    uint16_t want[REGF_SV_MAX_UNITS];
    uint32_t limit = a->hbins_size, count, vlist, pos, size, field, max_name, max_data;
    uint32_t name_bytes = 2 * (uint32_t)units;
    uint64_t nkd, lst = 0, vkd = 0, found = HCELL_NIL;
    int comp = units > 0; /* the default value's empty name is stored with flags 0 */
    size_t i;
    *aux = 0;
    if (fresh) st[0] = st[1] = -1; /* no cell allocated yet */
    if (!image_ok(a, len) || units > REGF_SV_MAX_UNITS || n > BIG_DATA || nk < 0 ||
        nk > (int64_t)limit)
        return REGF_SV_FALLBACK;
    if (!upcase_name(name16, units, want)) comp = 0;
    nkd = live_data(img, limit, (uint64_t)nk, NK_FIXED);
    if (!nkd || img[nkd] != 'n' || img[nkd + 1] != 'k') return REGF_SV_FALLBACK;
    count = rd32(img + nkd + NKO_VALUE_COUNT);
    vlist = rd32(img + nkd + NKO_VALUE_LIST);
    if (count == 0 || vlist == HCELL_NIL) {
        count = 0; /* no list: a list index beside a zero count is not trusted */
    } else {
        if (count > limit / 4) return REGF_SV_FALLBACK;
        lst = live_data(img, limit, vlist, 4 * count);
        if (!lst) return REGF_SV_FALLBACK;
    }
    /* Lookup, as cellvalues._find: names are equal when their upcased UTF-16 code units
     * are (upcase maps unit to unit, so the lengths must match first). */
    for (pos = 0; pos < count && found == HCELL_NIL; pos++) {
        uint32_t vk = rd32(img + lst + 4 * (uint64_t)pos), name_len, flags;
        uint64_t at;
        vkd = live_data(img, limit, vk, VK_FIXED);
        if (!vkd || img[vkd] != 'v' || img[vkd + 1] != 'k') return REGF_SV_FALLBACK;
        name_len = rd16le(img + vkd + 2);
        flags = rd16le(img + vkd + 16);
        at = vkd + VK_FIXED;
        if (flags & VK_COMP_NAME) {
            if (name_len != units) continue;
            if (at + name_len > len) return REGF_SV_FALLBACK;
            /* The last unit first: names written together often differ only there
             * ("value00", "value01", ...); equal names pass every unit either way. */
            if (units && upcase[img[at + units - 1]] != want[units - 1]) continue;
            for (i = 0; i < units && upcase[img[at + i]] == want[i]; i++) {
            }
        } else {
            if (name_len & 1u) {
                /* odd UTF-16 length: Python decodes it dropping the last byte */
                if ((name_len >> 1) == units) return REGF_SV_FALLBACK;
                continue;
            }
            if (name_len != name_bytes) continue;
            if (at + name_len > len) return REGF_SV_FALLBACK;
            if (units && upcase[rd16le(img + at + 2 * (units - 1))] != want[units - 1]) continue;
            for (i = 0; i < units && upcase[rd16le(img + at + 2 * i)] == want[i]; i++) {
            }
        }
        if (i == units) found = vk;
    }
    if (found != HCELL_NIL) {
        /* Replace: _store_data with the old data's cell reused when the new data fits. */
        uint32_t old_size = rd32(img + vkd + 4), old_data = rd32(img + vkd + 8);
        int has_old = !((old_size & DATA_INLINE) || old_size == 0 || old_data == HCELL_NIL);
        int64_t cap = 0, cell;
        int rc;
        if (has_old) {
            if (old_size > BIG_DATA) return REGF_SV_FALLBACK; /* big data maybe: Python */
            cap = regf_alloc_check(a, img, len, old_data);
            if (cap < 0) return REGF_SV_FALLBACK;
            cap -= 4;
        }
        if (n <= 4) {
            if (has_old && (rc = regf_alloc_free(a, img, len, old_data)) != 0) return rc;
            inline_fields(data, n, &size, &field);
        } else if (has_old && (int64_t)n <= cap) {
            uint64_t d = (uint64_t)BASE + old_data + 4;
            memmove(img + d, data, n);
            memset(img + d + n, 0, (size_t)cap - n); /* _write_plain zeroes the slack */
            touch(a, d, (uint64_t)cap);
            size = (uint32_t)n;
            field = old_data;
        } else {
            cell = regf_alloc_alloc(a, img, len, (int64_t)n, aux);
            if (cell < 0) return cell; /* need-grow: nothing changed yet */
            memmove(img + BASE + cell + 4, data, n);
            touch(a, (uint64_t)BASE + (uint64_t)cell + 4, n);
            if (has_old && (rc = regf_alloc_free(a, img, len, old_data)) != 0) return rc;
            size = (uint32_t)n;
            field = (uint32_t)cell;
        }
        wr32(img + vkd + 4, size);
        wr32(img + vkd + 8, field);
        wr32(img + vkd + 12, vtype);
        touch(a, vkd + 4, 12);
    } else {
        /* New value: vk, then its data cell, then the list grows (Python's order). The
         * cells already allocated survive a need-grow in st. */
        uint32_t stored = comp ? (uint32_t)units : name_bytes;
        int64_t vk = st[0], cell = st[1], nl;
        uint8_t entry[4];
        if (vk < 0) {
            vk = regf_alloc_alloc(a, img, len, (int64_t)(VK_FIXED + stored), aux);
            if (vk < 0) return vk;
            st[0] = vk;
        }
        if (n <= 4) {
            inline_fields(data, n, &size, &field);
        } else {
            if (cell < 0) {
                cell = regf_alloc_alloc(a, img, len, (int64_t)n, aux);
                if (cell < 0) return cell;
                memmove(img + BASE + cell + 4, data, n);
                touch(a, (uint64_t)BASE + (uint64_t)cell + 4, n);
                st[1] = cell;
            }
            size = (uint32_t)n;
            field = (uint32_t)cell;
        }
        vkd = (uint64_t)BASE + (uint64_t)vk + 4;
        memcpy(img + vkd, "vk", 2);
        wr16le(img + vkd + 2, (uint16_t)stored);
        wr32(img + vkd + 4, size);
        wr32(img + vkd + 8, field);
        wr32(img + vkd + 12, vtype);
        wr16le(img + vkd + 16, comp ? VK_COMP_NAME : 0);
        wr16le(img + vkd + 18, 0);
        for (i = 0; i < units; i++) {
            if (comp)
                img[vkd + VK_FIXED + i] = name16[2 * i];
            else
                wr16le(img + vkd + VK_FIXED + 2 * i, rd16le(name16 + 2 * i));
        }
        touch(a, vkd, VK_FIXED + stored);
        if (count == 0)
            nl = regf_alloc_alloc(a, img, len, 4, aux); /* first value: one 4-byte cell */
        else
            nl = regf_alloc_realloc(a, img, len, vlist, value_list_bytes(count + 1), aux);
        if (nl < 0) return nl;
        wr32(entry, (uint32_t)vk);
        memcpy(img + BASE + nl + 4 + 4 * (uint64_t)count, entry, 4);
        touch(a, (uint64_t)BASE + (uint64_t)nl + 4 + 4 * (uint64_t)count, 4);
        count++;
        vlist = (uint32_t)nl;
        found = (uint64_t)vk + (uint64_t)REGF_CREATED;
    }
    /* The nk's +0x04..+0x44 in one write, as Python: timestamp, count, list and the
     * maxima (high-water marks in UTF-16 bytes / data bytes, fmt 5.2). */
    wr32(img + nkd + NKO_LAST_WRITTEN, (uint32_t)timestamp);
    wr32(img + nkd + NKO_LAST_WRITTEN + 4, (uint32_t)(timestamp >> 32));
    wr32(img + nkd + NKO_VALUE_COUNT, count);
    wr32(img + nkd + NKO_VALUE_LIST, vlist);
    max_name = rd32(img + nkd + NKO_MAX_VALUE_NAME);
    max_data = rd32(img + nkd + NKO_MAX_VALUE_DATA);
    if (max_name < name_bytes) wr32(img + nkd + NKO_MAX_VALUE_NAME, name_bytes);
    if (max_data < n) wr32(img + nkd + NKO_MAX_VALUE_DATA, (uint32_t)n);
    touch(a, nkd + NKO_LAST_WRITTEN, NKO_MAX_VALUE_DATA + 4 - NKO_LAST_WRITTEN);
    return (int64_t)found;
}

/* Bulk set_value: values st[2] .. count-1 of a packed batch, each exactly one
 * regf_alloc_set_value call (so the same cells, bytes and dirty pages as that many calls).
 * names16 (names_len bytes) holds the UTF-16LE names, each but the last ended by a NUL
 * unit (names never hold one here: the caller sets those one by one), data the data
 * back to back; meta two u32 LE arrays of count entries: types, data sizes. Finding each
 * name's length here is cheaper than a Python length per value. st[3] / st[4] are the
 * byte offsets of value st[2]'s name and data, st[0..1] the set_value state of the value
 * in progress; a declined value is stepped over (its name and data offsets too) before
 * it is handed back, so the caller only sets it and calls again. */
int64_t regf_alloc_set_values(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                              const uint8_t *names16, size_t names_len, const uint8_t *data,
                              const uint8_t *meta, size_t count, uint64_t timestamp,
                              int fresh, int64_t *st, int64_t *aux) {
    if (fresh) { /* the first call of a batch: nothing allocated, value 0 at offsets 0 */
        st[0] = st[1] = -1;
        st[2] = st[3] = st[4] = 0;
    }
    while (st[2] >= 0 && (uint64_t)st[2] < count) {
        size_t k = (size_t)st[2], at = (size_t)st[3], end = at;
        uint32_t vtype = rd32(meta + 4 * k), size = rd32(meta + 4 * (count + k));
        int64_t r;
        while (end + 1 < names_len && (names16[end] | names16[end + 1])) end += 2;
        r = regf_alloc_set_value(a, img, len, nk, names16 + at, (end - at) / 2, vtype,
                                 data + st[4], size, timestamp, 0, st, aux);
        if (r < 0 && r != REGF_SV_FALLBACK) return r; /* need-grow (repeat) or an error */
        st[0] = st[1] = -1; /* the next value starts afresh */
        st[2] = (int64_t)k + 1;
        st[3] = (int64_t)end + 2; /* past the NUL */
        st[4] += (int64_t)size;
        if (r == REGF_SV_FALLBACK) return (int64_t)k; /* value k untouched: caller's turn */
    }
    return (int64_t)count;
}

/* ---- create_key fast path (twin of regf/model/edit.py _find_child / _create_child for a
 * stable key under a stable parent in a >= 1.5 hive, with nodes.new_nk, sublists.insert
 * and nodes.touch_parent) ---------------------------------------------------------------- */

#define NKO_FLAGS 2u
#define NKO_PARENT 16u
#define NKO_SUBKEY_COUNT 20u
#define NKO_SUBKEY_LIST 28u
#define NKO_VOLATILE_LIST 32u
#define NKO_SECURITY 44u
#define NKO_CLASS 48u
#define NKO_MAX_NAME 52u
#define NKO_MAX_CLASS 56u
#define NKO_NAME_LEN 72u
#define NK_COMP_NAME 0x20u
#define SKO_REFCOUNT 12u
#define SKO_DESC_LEN 16u
#define SK_FIXED 20u
#define MAX_LEAF_LH 1013u /* (4096 - 40) / 4 - 1: then an ri goes above (fmt 4.2) */
#define FIRST_LEAF 12u    /* one lh element: signature, count, (cell, hash) */

/* sublists.nk_key compared with want (upcased units): <0, 0, >0 like the sort keys
 * (unsigned 16-bit code units, a prefix first); 2 when the entry must not be trusted
 * here (Python decides: check_entry raises, or an odd UTF-16 length is decoded). */
static int entry_cmp(const uint8_t *img, size_t len, uint32_t nk, const uint16_t *want,
                     size_t units) {
    uint64_t s = (uint64_t)BASE + nk + 4;
    uint32_t n, m, i;
    int comp;
    if ((nk & 0x80000007u) || s + NK_FIXED > len || img[s] != 'n' || img[s + 1] != 'k')
        return 2;
    n = rd16le(img + s + NKO_NAME_LEN);
    if (s + NK_FIXED + n > len) return 2;
    comp = (img[s + NKO_FLAGS] & NK_COMP_NAME) != 0;
    if (!comp && (n & 1u)) return 2;
    m = comp ? n : n / 2;
    for (i = 0; i < m && i < units; i++) {
        uint16_t u = comp ? img[s + NK_FIXED + i] : rd16le(img + s + NK_FIXED + 2 * i);
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
        c = entry_cmp(img, len, rd32(img + d + 4 + 8 * (uint64_t)(n - 1)), want, units);
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
        c = entry_cmp(img, len, rd32(img + d + 4 + 8 * (uint64_t)mid), want, units);
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
    uint64_t d = (uint64_t)BASE + lst;
    int64_t size;
    uint32_t es;
    if ((lst & 7u) || (uint64_t)lst + 8 > limit) return 0;
    size = rdi32(img + d);
    if (size >= 0 || (int64_t)lst - size > (int64_t)limit) return 0;
    if (img[d + 4] == 'l' && img[d + 5] == 'h')
        es = 8;
    else if (img[d + 4] == 'r' && img[d + 5] == 'i')
        es = 4;
    else
        return 0;
    *kind = img[d + 5];
    *n = rd16le(img + d + 6);
    if (4 + es * (int64_t)*n > -size - 4) return 0;
    return d + 4;
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
    return entry_cmp(img, len, rd32(img + d + 4 + 8 * (uint64_t)(n - 1)), want, units);
}

/* sublists._root_select over an ri of rcount > 0 leaves at data offset r, with the same
 * probes (the last leaf first: sequential creation): the index of the leaf for want, or
 * -2 when a probe is not trusted. */
static int64_t root_select(const uint8_t *img, size_t len, uint32_t limit, uint64_t r,
                           uint32_t rcount, const uint16_t *want, size_t units) {
    uint32_t lo = 0, hi = rcount;
    int c = leaf_last_cmp(img, len, limit, rd32(img + r + 4 + 4 * (uint64_t)(rcount - 1)),
                          want, units);
    if (c == 2) return -2;
    if (c < 0) return rcount - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) >> 1;
        c = leaf_last_cmp(img, len, limit, rd32(img + r + 4 + 4 * (uint64_t)mid), want, units);
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
    uint32_t limit = a->hbins_size;
    k->hit = 0;
    k->pos = 0;
    k->n = 0;
    k->sel = -1;
    if (!image_ok(a, len) || units == 0 || units > REGF_SV_MAX_UNITS || parent < 0 ||
        parent > (int64_t)limit)
        return REGF_SV_FALLBACK;
    k->comp = upcase_name(name16, units, k->want);
    k->pd = live_data(img, limit, (uint64_t)parent, NK_FIXED);
    if (!k->pd || img[k->pd] != 'n' || img[k->pd + 1] != 'k') return REGF_SV_FALLBACK;
    k->count = rd32(img + k->pd + NKO_SUBKEY_COUNT);
    k->lst = k->leaf = rd32(img + k->pd + NKO_SUBKEY_LIST);
    if (k->count && k->lst != HCELL_NIL) {
        uint8_t kind = 0;
        uint64_t d = list_head(img, limit, k->lst, &kind, &k->n);
        if (!d) return REGF_SV_FALLBACK;
        if (kind == 'i') {
            /* an index root: the leaf its last names select (an empty root: Python) */
            if (k->n == 0) return REGF_SV_FALLBACK;
            k->sel = root_select(img, len, limit, d, k->n, k->want, units);
            if (k->sel < 0) return REGF_SV_FALLBACK;
            k->leaf = rd32(img + d + 4 + 4 * (uint64_t)k->sel);
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
    uint8_t el[8];
    const uint64_t pd = k->pd;
    if (k->count == 0 || k->lst == HCELL_NIL) {
        n = 0; /* a list index beside a zero count is not trusted: a new leaf */
        pos = 0;
    } else if (n >= MAX_LEAF_LH || regf_alloc_check(a, img, len, k->leaf) < 0) {
        /* a full leaf (an ri goes above it, or the ri's leaf splits) or a bad cell:
         * Python decides */
        return REGF_SV_FALLBACK;
    } else if (k->sel >= 0 && regf_alloc_check(a, img, len, k->lst) < 0) {
        return REGF_SV_FALLBACK; /* the root is written if the leaf moves */
    }
    /* The parent's sk gains the reference (cellsec._sk_start's checks first). */
    sk = rd32(img + pd + NKO_SECURITY);
    if (sk != HCELL_NIL && !(st[0] & 1)) {
        int64_t scap = regf_alloc_check(a, img, len, sk);
        uint64_t sd = (uint64_t)BASE + sk + 4;
        uint32_t refs;
        if (scap < 0 || scap - 4 < (int64_t)SK_FIXED || img[sd] != 's' || img[sd + 1] != 'k' ||
            SK_FIXED + (uint64_t)rd32(img + sd + SKO_DESC_LEN) > (uint64_t)scap - 4)
            return REGF_SV_FALLBACK;
        refs = rd32(img + sd + SKO_REFCOUNT);
        if (refs == 0xFFFFFFFFu) return REGF_SV_FALLBACK;
        wr32(img + sd + SKO_REFCOUNT, refs + 1);
        touch(a, sd + SKO_REFCOUNT, 4);
    }
    st[0] |= 1;
    /* nodes.new_nk: the node, name stored Latin-1 when every unit fits (fmt 4.9). */
    stored = k->comp ? (uint32_t)units : name_bytes;
    nk = st[1];
    if (nk < 0) {
        nk = regf_alloc_alloc(a, img, len, (int64_t)(NK_FIXED + stored), aux);
        if (nk < 0) return nk;
        d = (uint64_t)BASE + (uint64_t)nk + 4; /* zeroed by the allocation */
        memcpy(img + d, "nk", 2);
        wr16le(img + d + NKO_FLAGS, k->comp ? NK_COMP_NAME : 0);
        wr32(img + d + NKO_LAST_WRITTEN, (uint32_t)timestamp);
        wr32(img + d + NKO_LAST_WRITTEN + 4, (uint32_t)(timestamp >> 32));
        wr32(img + d + NKO_PARENT, (uint32_t)parent);
        wr32(img + d + NKO_SUBKEY_LIST, HCELL_NIL);
        wr32(img + d + NKO_VOLATILE_LIST, HCELL_NIL);
        wr32(img + d + NKO_VALUE_LIST, HCELL_NIL);
        wr32(img + d + NKO_SECURITY, sk);
        wr32(img + d + NKO_CLASS, HCELL_NIL);
        wr16le(img + d + NKO_NAME_LEN, (uint16_t)stored);
        for (i = 0; i < units; i++) {
            if (k->comp)
                img[d + NK_FIXED + i] = name16[2 * i];
            else
                wr16le(img + d + NK_FIXED + 2 * i, rd16le(name16 + 2 * i));
        }
        touch(a, d, NK_FIXED + stored);
        st[1] = nk;
    }
    /* sublists.insert / _add_to_leaf: a first lh leaf, or the leaf grown 1.5x when full
     * (at least one element more), then the element inserted in sorted position. */
    if (n == 0) {
        leaf = st[2];
        if (leaf < 0) {
            leaf = regf_alloc_alloc(a, img, len, FIRST_LEAF, aux);
            if (leaf < 0) return leaf;
            memcpy(img + BASE + leaf + 4, "lh", 2); /* count 0: zeroed */
            touch(a, (uint64_t)BASE + (uint64_t)leaf + 4, 4);
            st[2] = leaf;
        }
    } else {
        leaf = k->leaf;
        cap = -(int64_t)rdi32(img + BASE + leaf) - 4;
        if (cap - (4 + 8 * (int64_t)n) < 8) {
            int64_t size = cap + cap / 2;
            if (size < cap + 8) size = cap + 8;
            leaf = regf_alloc_realloc(a, img, len, leaf, size, aux);
            if (leaf < 0) return leaf;
        }
    }
    for (i = 0; i < units; i++) hash = hash * 37u + k->want[i]; /* lh hash, fmt 4.2 */
    d = (uint64_t)BASE + (uint64_t)leaf + 4;
    wr16le(img + d + 2, (uint16_t)(n + 1));
    touch(a, d + 2, 2);
    at = d + 4 + 8 * (uint64_t)pos;
    memmove(img + at + 8, img + at, 8 * (size_t)(n - (uint32_t)pos));
    wr32(el, (uint32_t)nk);
    wr32(el + 4, hash);
    memcpy(img + at, el, 8);
    touch(a, at, 8 * (uint64_t)(n - (uint32_t)pos + 1));
    list_field = (uint32_t)leaf;
    if (k->sel >= 0) {
        /* under an ri: the root keeps its cell and points at the leaf where it moved */
        uint64_t r = (uint64_t)BASE + k->lst + 4 + 4 + 4 * (uint64_t)k->sel;
        if ((uint32_t)leaf != k->leaf) {
            wr32(img + r, (uint32_t)leaf);
            touch(a, r, 4);
        }
        list_field = k->lst;
    }
    /* nodes.touch_parent: time, count and list, MaxNameLen (u16 only) in one write. */
    wr32(img + pd + NKO_LAST_WRITTEN, (uint32_t)timestamp);
    wr32(img + pd + NKO_LAST_WRITTEN + 4, (uint32_t)(timestamp >> 32));
    wr32(img + pd + NKO_SUBKEY_COUNT, k->count + 1); /* the nk's count + 1, as Python */
    wr32(img + pd + NKO_SUBKEY_LIST, list_field);
    cur = rd16le(img + pd + NKO_MAX_NAME);
    if (name_bytes > cur) wr16le(img + pd + NKO_MAX_NAME, (uint16_t)name_bytes);
    touch(a, pd + NKO_LAST_WRITTEN, NKO_MAX_CLASS + 4 - NKO_LAST_WRITTEN);
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
    if (k.hit) return rd32(img + BASE + k.leaf + 4 + 4 + 8 * (uint64_t)k.pos);
    if (!create) return -1;
    nk = create_at(a, img, len, parent, name16, units, timestamp, st, aux, &k);
    return nk < 0 ? nk : nk + REGF_CREATED;
}
