/*
 * regf cell allocator core (C99, no Python API): the C twin of the pure-Python
 * PyCellAllocator in regf/cells/alloc.py, which is the executable specification. Every
 * decision (which free cell serves a request, splits, coalescing, bin growth, dirty
 * pages, errors) must be identical; tests/test_alloc_parity.py checks that.
 *
 * The hive image is owned by Python (a bytearray that grows, so its address changes):
 * the allocator never keeps a pointer to it. Every call that looks at the image gets it
 * as (img, len) and first checks that the image still holds the whole hive bins
 * (4096 + hbins_size <= len; else REGF_ALLOC_E_IMAGE). When a new bin is needed and the
 * image is too short, the call changes nothing and returns REGF_ALLOC_NEED_GROW with the
 * needed image length in *aux; the caller extends the image (with zero bytes) and repeats
 * the same call, which then formats the bin.
 *
 * Offsets ("cell indexes") are relative to the start of the hive bins (file offset 4096),
 * as in the format (fmt section 3). All multi-byte fields are read and written
 * little-endian byte by byte (any host byte order, no unaligned access).
 *
 * Implemented in alloc.c (the allocator), valcells.c (the set_value fast path) and
 * keycells.c (the open_key fast path). This header is also the cffi cdef
 * (build_accel.py): keep it to declarations and valued object-like #defines.
 */
#ifndef REGF_ALLOC_H
#define REGF_ALLOC_H

#include <stddef.h>
#include <stdint.h>

typedef struct regf_alloc regf_alloc;

/* Error codes (negative). *aux, where a function takes it, gives the detail noted. */
#define REGF_ALLOC_E_RANGE (-1)       /* index < 0, misaligned or index + 8 > hbins_size */
#define REGF_ALLOC_E_HEADER (-2)      /* index is inside a bin header */
#define REGF_ALLOC_E_FREE (-3)        /* the cell's size field is >= 0 (free) */
#define REGF_ALLOC_E_BAD_SIZE (-4)    /* allocated size < 8, not a multiple of 8, or past its bin */
#define REGF_ALLOC_E_NEG_LEN (-5)     /* negative payload length */
#define REGF_ALLOC_E_TOO_LARGE (-6)   /* round8(4 + payload) + 32 >= 2 GiB */
#define REGF_ALLOC_E_HIVE_FULL (-7)   /* new bin would end at or past 2 GiB; *aux = its end */
#define REGF_ALLOC_E_OVERFLOW (-8)    /* write past the cell's data (or negative offset) */
#define REGF_ALLOC_NEED_GROW (-9)     /* *aux = image length needed; extend and call again */
#define REGF_ALLOC_E_NOMEM (-10)      /* malloc failed; nothing was changed */
#define REGF_ALLOC_E_IMAGE (-11)      /* image shorter than 4096 + hbins_size */
/* load() only; *aux = file offset of the problem */
#define REGF_ALLOC_E_SHORT_BASE (-12) /* image shorter than the base block */
#define REGF_ALLOC_E_HBINS_SIZE (-13) /* hbins size not a multiple of 4096, >= 2 GiB, past image */
#define REGF_ALLOC_E_BIN_HEADER (-14) /* signature, size < 4096 / not multiple / past hbins */
#define REGF_ALLOC_E_BIN_OFFSET (-15) /* bin offset field != its offset */
#define REGF_ALLOC_E_TILING (-16)     /* cell size < 8, not a multiple of 8, or past its bin */

/* A new, empty allocator (NULL when out of memory); free it with regf_alloc_delete. */
regf_alloc *regf_alloc_new(void);
void regf_alloc_delete(regf_alloc *a);

/* Scan every bin of img and file its free cells. hbins_size < 0: read the base block's
 * field at 0x28. Call once, on a new allocator. Returns 0 or an error (*aux = offset). */
int regf_alloc_load(regf_alloc *a, const uint8_t *img, size_t len, int64_t hbins_size,
                    int64_t *aux);

/* Allocate a zeroed cell for payload bytes; returns its index or an error. */
int64_t regf_alloc_alloc(regf_alloc *a, uint8_t *img, size_t len, int64_t payload,
                         int64_t *aux);

/* Free an allocated cell, coalescing with free neighbours in its bin. 0 or an error. */
int regf_alloc_free(regf_alloc *a, uint8_t *img, size_t len, int64_t index);

/* Resize: returns index when round8(4 + payload) fits, else the new cell's index (old data
 * copied, old cell freed), or an error. */
int64_t regf_alloc_realloc(regf_alloc *a, uint8_t *img, size_t len, int64_t index,
                           int64_t payload, int64_t *aux);

/* Validate an allocated cell index; returns its (positive) size or an error. */
int64_t regf_alloc_check(const regf_alloc *a, const uint8_t *img, size_t len, int64_t index);

/* Copy n bytes into cell index at data offset off; 0 or an error. */
int regf_alloc_write(regf_alloc *a, uint8_t *img, size_t len, int64_t index, int64_t off,
                     const uint8_t *data, size_t n);

/* Inspection. out_stats: allocated bytes, free bytes, free-cell count. */
uint32_t regf_alloc_hbins_size(const regf_alloc *a);
void regf_alloc_stats(const regf_alloc *a, uint64_t *out_stats);
size_t regf_alloc_nbins(const regf_alloc *a);
size_t regf_alloc_nfree(const regf_alloc *a);
size_t regf_alloc_ndirty(const regf_alloc *a);
/* Fill starts/ends with every bin (cap entries at most); returns the bin count. */
size_t regf_alloc_bins(const regf_alloc *a, uint32_t *starts, uint32_t *ends, size_t cap);
/* Zero, in out (a copy of hive-bins bytes [lo, lo + len)), the data of every free cell
 * that overlaps that range; size fields stay, so the copy's bins still parse. The
 * scrubbed copy save_as writes (regf/cells/pyalloc.py: scrub_window is the twin). */
void regf_alloc_scrub(const regf_alloc *a, uint8_t *out, uint64_t lo, uint64_t len);
/* Fill starts/sizes with every free cell (in no particular order); returns their count. */
size_t regf_alloc_free_cells(const regf_alloc *a, uint32_t *starts, uint32_t *sizes,
                             size_t cap);
/* Fill out with the dirty page numbers (file offset / 4096) in increasing order; returns
 * their count. clear != 0 also empties the set (only when they all fitted in cap). */
size_t regf_alloc_dirty(regf_alloc *a, uint32_t *out, size_t cap, int clear);

/* ---- set_value fast path ------------------------------------------------------------
 * The C twin of regf.model.cellvalues.set_value (that Python function is the
 * specification: same cells, bytes, dirty pages) for the common case only: a value name
 * of at most REGF_SV_MAX_UNITS UTF-16 code units (name16: UTF-16LE, units code units)
 * and data of at most 16344 bytes (never big data, fmt 4.6), where the key's cells are
 * all as expected. Anything else -- a cell failing a check, old data that may be big
 * data, an odd-length UTF-16 name -- returns REGF_SV_FALLBACK before changing anything,
 * and the caller runs the Python function, which decides (and raises the precise error).
 *
 * Returns the vk cell index (+ REGF_CREATED when the value is new), REGF_ALLOC_NEED_GROW
 * (*aux = image length: extend the image and repeat the call with the same st, which
 * records the cells already allocated, and fresh 0; fresh non-zero starts st at {-1, -1}
 * on the first call), REGF_SV_FALLBACK, or an allocator error. */
#define REGF_SV_FALLBACK (-17)
/* Added to a returned cell index that the call created (one int tells both). */
#define REGF_CREATED (INT64_C(1) << 32)
#define REGF_SV_MAX_UNITS 255
int64_t regf_alloc_set_value(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                             const uint8_t *name16, size_t units, uint32_t vtype,
                             const uint8_t *data, size_t n, uint64_t timestamp,
                             int fresh, int64_t *st, int64_t *aux);

/* Bulk twin of a sequence of regf_alloc_set_value calls on one key. names16 (names_len
 * bytes) holds the UTF-16LE names, each but the last followed by one NUL unit (no name may
 * hold a NUL); data the data back to back; meta two u32 LE arrays of count entries: types,
 * sizes. Value k is the k-th name, type types[k] and the sizes[k] bytes at data + (sum
 * of earlier sizes). st = {-1, -1, first value, its name offset, its data offset}
 * (bytes); fresh non-zero makes C start it at value 0 (the first call of a batch, so
 * that the caller need not write it). Returns count when every value is set; k < count
 * when value k declined (REGF_SV_FALLBACK, nothing of it changed; st already points
 * past it, so the caller sets it itself and calls again with st as it is and fresh 0);
 * REGF_ALLOC_NEED_GROW (extend and repeat with the same st and fresh 0) or an
 * allocator error. */
int64_t regf_alloc_set_values(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                              const uint8_t *names16, size_t names_len,
                              const uint8_t *data, const uint8_t *meta, size_t count,
                              uint64_t timestamp, int fresh,
                              int64_t *st, int64_t *aux);

/* ---- open_key: the create_key fast path -----------------------------------------------
 * The C twin of regf.model.edit's subkey lookup and creation (EditHive._find_child /
 * _create_child with nodes.new_nk, sublists.insert and nodes.touch_parent, the
 * specification) for a stable key named by name16 (1..REGF_SV_MAX_UNITS units) under a
 * stable parent nk whose stable list is empty, one lh leaf (a >= 1.5 hive) with room
 * before the ri limit, or an ri of lh leaves whose selected leaf has room (a full one
 * splits in Python); no class, the parent's sk inherited. The caller has checked the
 * name and that the parent has no volatile children; create is non-zero when the depth
 * check passed. fresh is non-zero on the first call for a name (C then starts st at
 * {0, -1, -1}) and zero on a repeat after need-grow. Returns the child's nk when it
 * exists; -1 when it does not and create is 0; else the new nk + REGF_CREATED (one
 * return value tells the caller both), REGF_ALLOC_NEED_GROW (*aux = image length; extend
 * and repeat with the same st and fresh 0), REGF_SV_FALLBACK (nothing changed) or an
 * allocator error. */
int64_t regf_alloc_open_key(regf_alloc *a, uint8_t *img, size_t len, int64_t parent,
                            const uint8_t *name16, size_t units, uint64_t timestamp,
                            int create, int fresh, int64_t *st, int64_t *aux);

#endif /* REGF_ALLOC_H */
