"""cffi builder (out-of-line API mode) for ``regf._accel._regf_c``.

Used by ``setup.py`` through ``cffi_modules=["csrc/build_accel.py:ffibuilder"]``; run it
directly (``python3 csrc/build_accel.py``) to build the extension in place for development.
Paths are relative to the project root, which is the working directory in both cases.
"""

from __future__ import annotations

import os

from cffi import FFI

CDEF = """
void regf_init(void);
uint32_t regf_checksum(const uint8_t *bb);
uint64_t regf_marvin32(const uint8_t *p, size_t n, uint64_t seed);
uint16_t regf_upcase_unit(uint16_t u);
uint32_t regf_name_hash(const uint16_t *units, size_t n);
void regf_upcase_units(const uint16_t *in, uint16_t *out, size_t n);
void regf_sort_key(const uint16_t *in, uint8_t *out, size_t n);
int regf_scan_cells(const uint8_t *bins, size_t hbins_size, uint8_t *bitmap_out);
int regf_leaf_cells(const uint8_t *bins, size_t hbins_size, uint32_t list_cell,
                    uint32_t *out, size_t out_cap);
uint64_t regf_bin_chain_end(const uint8_t *bins, size_t hbins_size, size_t start);
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
"""

# Cell allocator core (csrc/alloc.h), used by regf.cells.alloc.CCellAllocator.
ALLOC_CDEF = """
typedef struct regf_alloc regf_alloc;
regf_alloc *regf_alloc_new(void);
void regf_alloc_delete(regf_alloc *a);
int regf_alloc_load(regf_alloc *a, const uint8_t *img, size_t len, int64_t hbins_size,
                    int64_t *aux);
int64_t regf_alloc_alloc(regf_alloc *a, uint8_t *img, size_t len, int64_t payload,
                         int64_t *aux);
int regf_alloc_free(regf_alloc *a, uint8_t *img, size_t len, int64_t index);
int64_t regf_alloc_realloc(regf_alloc *a, uint8_t *img, size_t len, int64_t index,
                           int64_t payload, int64_t *aux);
int64_t regf_alloc_check(const regf_alloc *a, const uint8_t *img, size_t len, int64_t index);
int regf_alloc_write(regf_alloc *a, uint8_t *img, size_t len, int64_t index, int64_t off,
                     const uint8_t *data, size_t n);
uint32_t regf_alloc_hbins_size(const regf_alloc *a);
void regf_alloc_stats(const regf_alloc *a, uint64_t *out_stats);
size_t regf_alloc_nbins(const regf_alloc *a);
size_t regf_alloc_nfree(const regf_alloc *a);
size_t regf_alloc_ndirty(const regf_alloc *a);
size_t regf_alloc_bins(const regf_alloc *a, uint32_t *starts, uint32_t *ends, size_t cap);
size_t regf_alloc_free_cells(const regf_alloc *a, uint32_t *starts, uint32_t *sizes,
                             size_t cap);
size_t regf_alloc_dirty(regf_alloc *a, uint32_t *out, size_t cap, int clear);
int64_t regf_alloc_set_value(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                             const uint8_t *name16, size_t units, uint32_t vtype,
                             const uint8_t *data, size_t n, uint64_t timestamp,
                             int fresh, int64_t *st, int64_t *aux);
int64_t regf_alloc_set_values(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                              const uint8_t *names16, size_t names_len,
                              const uint8_t *data, const uint8_t *meta, size_t count,
                              uint64_t timestamp, int fresh,
                              int64_t *st, int64_t *aux);
int64_t regf_alloc_open_key(regf_alloc *a, uint8_t *img, size_t len, int64_t parent,
                            const uint8_t *name16, size_t units, uint64_t timestamp,
                            int create, int fresh, int64_t *st, int64_t *aux);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF + ALLOC_CDEF)
ffibuilder.set_source(
    "regf._accel._regf_c",
    '#include "regf_accel.h"\n#include "alloc.h"',
    sources=["csrc/regf_accel.c", "csrc/alloc.c"],
    include_dirs=["csrc"],
    depends=["csrc/regf_accel.h", "csrc/upcase_table.h", "csrc/alloc.h"],
    extra_compile_args=["-O2"],
)

if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ffibuilder.compile(verbose=True)
