/*
 * What the key-cell and value-cell fast paths (keycells.c, valcells.c) share with each
 * other and with the allocator (alloc.c). Internal: not part of the cdef.
 *
 * Both fast paths edit cells in the image the allocator manages, record every write as
 * dirty through regf_alloc_touch, and run the same cheap checks the Python lookups make
 * (cellvalues._live) before reading a cell. Names compare and hash by Windows' upcase
 * table (regf_upcase_table, built by hash.c).
 */
#ifndef REGF_CELLS_H
#define REGF_CELLS_H

#include "alloc.h"
#include "bytes.h"
#include "layout.h"
#include "regf_accel.h"

/* Mark the 4 KiB pages spanned by len bytes at file offset off as dirty (alloc.c). */
void regf_alloc_touch(regf_alloc *a, uint64_t off, uint64_t len);
/* The image still holds the whole hive bins (alloc.c's check before every call). */
int regf_alloc_image_ok(const regf_alloc *a, size_t len);

/* The units of a UTF-16LE name upcased into want (the Windows table: names compare and
 * hash by it); 1 when every unit fits Latin-1, so the name is stored compressed
 * (fmt 4.9), else 0. */
static inline int upcase_name(const uint16_t *upcase, const uint8_t *name16, size_t units,
                              uint16_t *want) {
    int latin1 = 1;
    size_t i;
    for (i = 0; i < units; i++) {
        uint16_t u = rd16(name16 + 2 * i);
        if (u > 0xFF) latin1 = 0;
        want[i] = upcase[u];
    }
    return latin1;
}

/* cellvalues._live: file offset of the data of cell idx when idx is aligned and in range
 * and the cell is allocated, holds min_cap bytes and ends inside the hive bins; else 0.
 * (Not the allocator's bin check: these are the cheap checks the Python lookup makes.) */
static inline uint64_t live_data(const uint8_t *img, uint32_t limit, uint64_t idx,
                                 uint32_t min_cap) {
    int64_t size;
    if ((idx & 7u) || idx + 8 > limit) return 0;
    size = rd_i32(img + REGF_HBINS_OFFSET + idx + REGF_CELL_SIZE);
    if (size > -(int64_t)(REGF_CELL_FIXED_SIZE + min_cap) || (int64_t)idx - size > (int64_t)limit)
        return 0;
    return REGF_HBINS_OFFSET + idx + REGF_CELL_FIXED_SIZE;
}

/* File offset of the data of cell idx (no checks: the caller has made them). */
static inline uint64_t cell_data(uint64_t idx) {
    return (uint64_t)REGF_HBINS_OFFSET + idx + REGF_CELL_FIXED_SIZE;
}

#endif /* REGF_CELLS_H */
