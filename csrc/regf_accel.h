/*
 * regf_accel: hot primitives for the regf hive reader/writer (C99, no Python API).
 * Implemented in hash.c (upcase, hashes, checksums, recovery page copies) and walk.c
 * (cell scan, list decoding, bin chain, tree walk). This header is also the cffi cdef
 * (build_accel.py): keep it to declarations and valued object-like #defines.
 *
 * Every function has a pure-Python twin in regf/_accel/pure.py (regf_walk: purewalk.py)
 * with identical results, including error codes; tests/test_accel.py and
 * tests/test_walk.py check the parity with hypothesis.
 * All multi-byte fields are read little-endian byte by byte, so the code is correct on
 * any host byte order and never performs unaligned loads. UTF-16 code units passed as
 * uint16_t arrays are in host order.
 */
#ifndef REGF_ACCEL_H
#define REGF_ACCEL_H

#include <stddef.h>
#include <stdint.h>

/* Build the 65536-entry upcase table from upcase_table.h. Idempotent; the functions
 * below call it lazily, callers may call it once up front (the Python binding does). */
void regf_init(void);

/* XOR of the 127 little-endian dwords in bb[0..508); 0xFFFFFFFF -> 0xFFFFFFFE, 0 -> 1.
 * bb must hold at least 508 bytes. */
uint32_t regf_checksum(const uint8_t *bb);

/* Marvin32 of p[0..n) with a 64-bit seed (low dword = s0, high dword = s1). */
uint64_t regf_marvin32(const uint8_t *p, size_t n, uint64_t seed);

/* out[i] = Marvin32 of buf[spans[2i] .. spans[2i] + spans[2i+1]) for i < n: the Hash-1
 * of every entry of a log in one call (log recovery runs it on a second thread while
 * the first copies pages; cffi releases the GIL). Returns 0, or -(i + 1) when span i
 * does not lie inside buf[0..buf_len), before hashing anything. */
int64_t regf_marvin32_spans(const uint8_t *buf, size_t buf_len, const uint64_t *spans,
                            size_t n, uint64_t seed, uint64_t *out);

/* For i < n, copies src[runs[3i+1] ..][0..runs[3i+2]) to dst[runs[3i] ..]: the page
 * runs of log entries onto the recovered image, in order (a later run wins). Returns 0,
 * or -(i + 1) when run i does not lie inside dst[0..dst_len) and src[0..src_len),
 * before copying anything. */
int64_t regf_copy_runs(uint8_t *dst, size_t dst_len, const uint8_t *src, size_t src_len,
                       const uint64_t *runs, size_t n);

/* Windows RtlUpcaseUnicodeChar, one UTF-16 code unit (surrogates are unchanged). */
uint16_t regf_upcase_unit(uint16_t u);

/* The whole table (built first): callers in hot loops index it instead of calling. */
const uint16_t *regf_upcase_table(void);

/* lh hash: h = h*37 + upcase(u) mod 2^32 over the code units. */
uint32_t regf_name_hash(const uint16_t *units, size_t n);

/* out[i] = upcase(in[i]); in and out may be the same array. */
void regf_upcase_units(const uint16_t *in, uint16_t *out, size_t n);

/* Upcase and store as big-endian bytes (2*n bytes in out): the subkey sort key. */
void regf_sort_key(const uint16_t *in, uint8_t *out, size_t n);

/* ---- regf_scan_cells ------------------------------------------------------------
 * Walks the hbins at bins[0..hbins_size) and sets, in bitmap_out, the bit for every
 * ALLOCATED cell start: cell index i -> bit (i/8), stored at bitmap_out[(i/8) >> 3],
 * mask 1 << ((i/8) & 7). bitmap_out must hold (hbins_size + 63) / 64 bytes; the function
 * zeroes it first. bins must hold hbins_size bytes; nothing outside is ever read.
 *
 * Returns 0 on success, else -(offset + kind) where offset (a multiple of 8, relative to
 * the start of the hive-bins data) is where the problem is and kind is:
 *   REGF_SCAN_BAD_BIN  (1) bin header at offset: truncated (< 32 bytes left), signature
 *                          not "hbin", offset field != offset, size 0, not a multiple of
 *                          4096, or running past hbins_size;
 *   REGF_SCAN_BAD_CELL (2) cell at offset: size 0, |size| not a multiple of 8, or
 *                          running past its bin;
 *   REGF_SCAN_TOO_BIG  (3) hbins_size > REGF_MAX_HBINS_SIZE (offset 0).
 * Decode with: code = -ret; kind = code & 7; offset = code & ~7.
 */
#define REGF_MAX_HBINS_SIZE 0x80000000u
#define REGF_SCAN_BAD_BIN 1
#define REGF_SCAN_BAD_CELL 2
#define REGF_SCAN_TOO_BIG 3
int regf_scan_cells(const uint8_t *bins, size_t hbins_size, uint8_t *bitmap_out);

/* ---- regf_leaf_cells ------------------------------------------------------------
 * Decodes the subkey list at cell index list_cell (li / lf / lh, or an ri whose elements
 * are li / lf / lh leaves) into the nk cell indexes it lists, in order.
 *
 * A cell index c is valid when: bit 31 clear (stable), c % 8 == 0, c + 4 <= hbins_size,
 * the i32 size at bins + c is negative (allocated) and c + |size| <= hbins_size. Cell data
 * starts at bins + c + 4. A list cell's data must hold its 4-byte header and
 * count elements (4 bytes each for li / ri, 8 for lf / lh). Every nk index is checked
 * as a valid cell too (its contents are not looked at).
 *
 * Like snprintf, writes at most out_cap indexes to out (out may be NULL when out_cap is
 * 0) and returns the total count; call again with a larger buffer when it exceeds
 * out_cap. Returns a negative REGF_LEAF_E_* code on malformed input. The total may not
 * exceed hbins_size / 8 (distinct cells are at least 8 bytes apart): an ri listing the
 * same leaves over and over is REGF_LEAF_E_TOO_MANY instead of a 4-billion-entry list.
 */
#define REGF_LEAF_E_LIST_CELL (-1)  /* list_cell is not a valid cell (or < 4 data bytes) */
#define REGF_LEAF_E_LIST_SIG (-2)   /* list signature is not li/lf/lh/ri */
#define REGF_LEAF_E_LIST_COUNT (-3) /* count elements do not fit in the list cell */
#define REGF_LEAF_E_NESTED_RI (-4)  /* an ri element points to another ri */
#define REGF_LEAF_E_LEAF_CELL (-5)  /* an ri element is not a valid cell (or < 4 bytes) */
#define REGF_LEAF_E_LEAF_SIG (-6)   /* an ri element's signature is not li/lf/lh */
#define REGF_LEAF_E_LEAF_COUNT (-7) /* a leaf's elements do not fit in its cell */
#define REGF_LEAF_E_NK_CELL (-8)    /* an nk index is not a valid cell */
#define REGF_LEAF_E_TOO_MANY (-9)   /* more than hbins_size / 8 entries in total */
int regf_leaf_cells(const uint8_t *bins, size_t hbins_size, uint32_t list_cell,
                    uint32_t *out, size_t out_cap);

/* ---- regf_bin_chain_end ---------------------------------------------------------
 * Follows the chain of hbin headers in bins[0..hbins_size) from offset start (a
 * multiple of 4096 not above hbins_size) and returns the offset of the first header that
 * is not sane: fewer than 32 bytes left, signature not "hbin", offset field != its
 * position, size < 4096, size % 4096 != 0, or the bin running past hbins_size. Returns
 * hbins_size when every bin from start on is sane. Cells are not looked at. Used after
 * log recovery (fmt §6.5 step 6) to find dirty bins that need a dummy replacement.
 */
uint64_t regf_bin_chain_end(const uint8_t *bins, size_t hbins_size, size_t start);

/* ---- regf_walk --------------------------------------------------------------------
 * Depth-first, pre-order walk of the key tree from the nk at start_cell, in stored order,
 * in resumable chunks: each call fills the output buffers in *out as far as they go and
 * returns 1 ("call again with the same state") or 0 (done). The reader turns the records
 * into Key / Value objects; everything irregular is flagged so that the reader's own
 * checked Python code handles (and reports) it, which keeps error types and offsets
 * identical. Nothing outside bins[0..hbins_size), cellmap[0..cellmap_len),
 * visited[0..visited_len) and the output buffers is ever touched, whatever the bytes or
 * the state words hold, and every call does work bounded by the caps (plus one subkey
 * list check of at most 2^20 entries per expanded key).
 *
 * Cells are checked exactly like HiveImage.cell(): stable, 8-aligned, below hbins_size,
 * marked in cellmap (the reader's cell-start bitmap: bit (c/8) at byte (c/8)>>3, mask
 * 1 << ((c/8)&7)), negative size, enough data bytes. An nk needs 0x4C bytes, "nk" and
 * its name inside the cell; a vk 0x14 bytes, "vk" and its name inside the cell.
 *
 * Output (structure of arrays; out->*_cap are set by the caller, the counts by the call):
 *   key i:   key_cell, key_depth (base_depth for the start key), key_status (REGF_K_*),
 *            key_nvals (its value records, which follow the previous keys' in val_*);
 *   value j: val_cell (vk), val_type, val_status (REGF_V_SLOW: raw bytes need the Python
 *            path: big data, a damaged or missing data cell, data over
 *            REGF_WALK_DATA_MAX bytes);
 *   knames / vnames: every key / value name as UTF-16LE followed by one U+0000 unit
 *            (compressed names widened from Latin-1, an odd trailing byte dropped), in
 *            record order, so a decoded chunk splits on U+0000 into the names, unless
 *            name_nul says some name holds a U+0000 itself;
 *   data + fmt: the exact raw bytes of every value, concatenated, and the struct format
 *            ("<len>s" per value, in order; "0s" for REGF_V_SLOW) that cuts them apart.
 *            Inline data (fmt §4.3) is the vk's data field, at most 4 bytes.
 *
 * Status bits of a key: REGF_K_CYCLE (already in visited: not expanded, no values; the
 * reader reports the cycle), REGF_K_DEPTH (depth >= max_depth: not expanded),
 * REGF_K_CHILDREN_BAD (its subkey list fails a check the reader makes: bad cells,
 * signatures, counts, an ri inside an ri, more than min(2^20, hbins_size / 8) entries, an
 * unsound nk, or with REGF_WALK_STRICT two neighbours whose names are equal
 * case-insensitively; not expanded, and the call returns right after this record),
 * REGF_K_VALUES_BAD (its value list or a vk fails a check, or its values do not fit in
 * an empty chunk: no value records). REGF_WALK_LEVEL (Key.subkeys(): the levels below
 * a key whose values the caller has, max_depth = base_depth + 2): the start key's values
 * are not emitted (key_nvals 0, never REGF_K_VALUES_BAD), and a key not expanded for
 * REGF_K_DEPTH whose nk has no stable subkeys (count 0 or list HCELL_NIL) also gets
 * REGF_K_LEAF. visited (required) has one bit per cell like
 * cellmap, is set for every key visited, and may be shared by several walks.
 *
 * REGF_WALK_GROUPS (Key.subkeys() of the natural recursive walk) changes the order: a
 * key's children are emitted together, as one group (its first record carries
 * REGF_K_GROUP), before the walk descends into the first of them that has subkeys; the
 * groups come in the order a recursive walk asks for them (pre-order of their parents).
 * A record gets a group later iff its status has none of REGF_K_LEAF (no subkeys, or a
 * sound list with no entries; set on every such key in this mode), REGF_K_CYCLE,
 * REGF_K_DEPTH and REGF_K_CHILDREN_BAD. While a group is pending its parent's visited bit
 * of unit c/8 + 1 (inside the nk cell, never a cell start) is set as the expansion mark.
 * state[2] holds the top frame's mode (emitting its group, or descending).
 *
 * state: REGF_WALK_STATE_WORDS u32, zeroed before the first call. Negative returns:
 * REGF_WALK_E_ARGS (caps below the minimums or above 2^30, hbins_size too big, depth
 * range beyond REGF_WALK_MAX_FRAMES, visited missing or too short, state words out of
 * range), REGF_WALK_E_START (start_cell is not a sound nk).
 */
#define REGF_WALK_STRICT 1u
#define REGF_WALK_VALUES 2u
#define REGF_WALK_LEVEL 4u
#define REGF_WALK_GROUPS 8u
#define REGF_WALK_MARK_UNIT 1u /* expansion mark: visited bit of unit c/8 + this */
#define REGF_K_CYCLE 1u
#define REGF_K_DEPTH 2u
#define REGF_K_CHILDREN_BAD 4u
#define REGF_K_VALUES_BAD 8u
#define REGF_K_LEAF 16u
#define REGF_K_GROUP 32u
#define REGF_V_SLOW 1u
#define REGF_WALK_START 0u
#define REGF_WALK_RUNNING 1u
#define REGF_WALK_DONE 2u
#define REGF_WALK_HEAD_WORDS 3
#define REGF_WALK_FRAME_WORDS 3
#define REGF_WALK_MAX_FRAMES 514
#define REGF_WALK_STATE_WORDS (REGF_WALK_HEAD_WORDS + REGF_WALK_FRAME_WORDS * REGF_WALK_MAX_FRAMES)
#define REGF_WALK_MIN_NAMES (2 * 65535 + 2)
#define REGF_WALK_DATA_MAX 65536u
#define REGF_WALK_CAP_MAX 0x40000000u /* largest capacity of any output buffer */
#define REGF_WALK_E_ARGS (-1)
#define REGF_WALK_E_START (-2)
typedef struct regf_walk_out {
    uint32_t *key_cell, *key_depth, *key_status, *key_nvals;
    size_t key_cap, nkeys;
    uint32_t *val_cell, *val_type, *val_status;
    size_t val_cap, nvals;
    uint8_t *knames;
    size_t knames_cap, knames_len;
    uint8_t *vnames;
    size_t vnames_cap, vnames_len;
    uint8_t *data;
    size_t data_cap, data_len;
    char *fmt;
    size_t fmt_cap, fmt_len;
    uint32_t name_nul;
} regf_walk_out;
int regf_walk(const uint8_t *bins, size_t hbins_size, const uint8_t *cellmap,
              size_t cellmap_len, uint8_t *visited, size_t visited_len, uint32_t start_cell,
              uint32_t base_depth, uint32_t max_depth, uint32_t flags, uint32_t minor,
              uint32_t *state, regf_walk_out *out);

#endif /* REGF_ACCEL_H */
