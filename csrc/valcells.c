/*
 * Value cells: the set_value fast path (regf_alloc_set_value, regf_alloc_set_values), the
 * C twin of regf/cells/values.py set_value for the common case. See alloc.h for the
 * contract; every field offset comes from layout.h.
 */
#include <string.h>

#include "cells.h"

/* cellvalues.value_list_bytes: the list size ReactOS's CmpAddValueToList asks for. */
static uint32_t value_list_bytes(uint32_t count) {
    uint32_t size;
    if (count < 100) return REGF_VALUE_LIST_ELEM_SIZE * count;
    size = REGF_VALUE_LIST_ELEM_SIZE * ((count + 99) / 100 * 100);
    if (size > REGF_PAGE) size = (size + REGF_PAGE - 1) / REGF_PAGE * REGF_PAGE;
    return size;
}

/* Data size and data field of a vk for data that fits the data field: inline (fmt 4.3). */
static void inline_fields(const uint8_t *data, size_t n, uint32_t *size, uint32_t *field) {
    uint8_t b[REGF_VK_DATA_BYTES] = {0};
    if (n) memcpy(b, data, n);
    *size = REGF_DATA_INLINE | (uint32_t)n;
    *field = rd32(b);
}

int64_t regf_alloc_set_value(regf_alloc *a, uint8_t *img, size_t len, int64_t nk,
                             const uint8_t *name16, size_t units, uint32_t vtype,
                             const uint8_t *data, size_t n, uint64_t timestamp,
                             int fresh, int64_t *st, int64_t *aux) {
    const uint16_t *upcase = regf_upcase_table();
    uint16_t want[REGF_SV_MAX_UNITS];
    uint32_t limit = regf_alloc_hbins_size(a), count, vlist, pos, size, field, max_name, max_data;
    uint32_t name_bytes = 2 * (uint32_t)units;
    uint64_t nkd, lst = 0, vkd = 0, found = REGF_HCELL_NIL;
    int comp = units > 0; /* the default value's empty name is stored with flags 0 */
    size_t i;
    *aux = 0;
    if (fresh) st[0] = st[1] = -1; /* no cell allocated yet */
    if (!regf_alloc_image_ok(a, len) || units > REGF_SV_MAX_UNITS || n > REGF_BIG_DATA_SEGMENT ||
        nk < 0 ||
        nk > (int64_t)limit)
        return REGF_SV_FALLBACK;
    if (!upcase_name(upcase, name16, units, want)) comp = 0;
    nkd = live_data(img, limit, (uint64_t)nk, REGF_NK_FIXED_SIZE);
    if (!nkd || !HAS_SIG(img + nkd, NK)) return REGF_SV_FALLBACK;
    count = rd32(img + nkd + REGF_NK_VALUE_COUNT);
    vlist = rd32(img + nkd + REGF_NK_VALUE_LIST);
    if (count == 0 || vlist == REGF_HCELL_NIL) {
        count = 0; /* no list: a list index beside a zero count is not trusted */
    } else {
        if (count > limit / REGF_VALUE_LIST_ELEM_SIZE) return REGF_SV_FALLBACK;
        lst = live_data(img, limit, vlist, REGF_VALUE_LIST_ELEM_SIZE * count);
        if (!lst) return REGF_SV_FALLBACK;
    }
    /* Lookup, as cellvalues._find: names are equal when their upcased UTF-16 code units
     * are (upcase maps unit to unit, so the lengths must match first). */
    for (pos = 0; pos < count && found == REGF_HCELL_NIL; pos++) {
        uint32_t vk = rd32(img + lst + REGF_VALUE_LIST_ELEM_SIZE * (uint64_t)pos), name_len, flags;
        uint64_t at;
        vkd = live_data(img, limit, vk, REGF_VK_FIXED_SIZE);
        if (!vkd || !HAS_SIG(img + vkd, VK)) return REGF_SV_FALLBACK;
        name_len = rd16(img + vkd + REGF_VK_NAME_LENGTH);
        flags = rd16(img + vkd + REGF_VK_FLAGS);
        at = vkd + REGF_VK_FIXED_SIZE;
        if (flags & REGF_VALUE_COMP_NAME) {
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
            if (units && upcase[rd16(img + at + 2 * (units - 1))] != want[units - 1]) continue;
            for (i = 0; i < units && upcase[rd16(img + at + 2 * i)] == want[i]; i++) {
            }
        }
        if (i == units) found = vk;
    }
    if (found != REGF_HCELL_NIL) {
        /* Replace: _store_data with the old data's cell reused when the new data fits. */
        uint32_t old_size = rd32(img + vkd + REGF_VK_DATA_SIZE);
        uint32_t old_data = rd32(img + vkd + REGF_VK_DATA);
        int has_old =
            !((old_size & REGF_DATA_INLINE) || old_size == 0 || old_data == REGF_HCELL_NIL);
        int64_t cap = 0, cell;
        int rc;
        if (has_old) {
            if (old_size > REGF_BIG_DATA_SEGMENT) return REGF_SV_FALLBACK; /* big data maybe */
            cap = regf_alloc_check(a, img, len, old_data);
            if (cap < 0) return REGF_SV_FALLBACK;
            cap -= REGF_CELL_FIXED_SIZE;
        }
        if (n <= REGF_VK_DATA_BYTES) {
            if (has_old && (rc = regf_alloc_free(a, img, len, old_data)) != 0) return rc;
            inline_fields(data, n, &size, &field);
        } else if (has_old && (int64_t)n <= cap) {
            uint64_t d = cell_data(old_data);
            memmove(img + d, data, n);
            memset(img + d + n, 0, (size_t)cap - n); /* _write_plain zeroes the slack */
            regf_alloc_touch(a, d, (uint64_t)cap);
            size = (uint32_t)n;
            field = old_data;
        } else {
            cell = regf_alloc_alloc(a, img, len, (int64_t)n, aux);
            if (cell < 0) return cell; /* need-grow: nothing changed yet */
            memmove(img + cell_data((uint64_t)cell), data, n);
            regf_alloc_touch(a, cell_data((uint64_t)cell), n);
            if (has_old && (rc = regf_alloc_free(a, img, len, old_data)) != 0) return rc;
            size = (uint32_t)n;
            field = (uint32_t)cell;
        }
        wr32(img + vkd + REGF_VK_DATA_SIZE, size);
        wr32(img + vkd + REGF_VK_DATA, field);
        wr32(img + vkd + REGF_VK_TYPE, vtype);
        regf_alloc_touch(a, vkd + REGF_VK_DATA_SIZE,
                         REGF_VK_TYPE + REGF_VK_TYPE_BYTES - REGF_VK_DATA_SIZE);
    } else {
        /* New value: vk, then its data cell, then the list grows (Python's order). The
         * cells already allocated survive a need-grow in st. */
        uint32_t stored = comp ? (uint32_t)units : name_bytes;
        int64_t vk = st[0], cell = st[1], nl;
        uint64_t at;
        uint8_t entry[REGF_VALUE_LIST_ELEM_SIZE];
        if (vk < 0) {
            vk = regf_alloc_alloc(a, img, len, (int64_t)(REGF_VK_FIXED_SIZE + stored), aux);
            if (vk < 0) return vk;
            st[0] = vk;
        }
        if (n <= REGF_VK_DATA_BYTES) {
            inline_fields(data, n, &size, &field);
        } else {
            if (cell < 0) {
                cell = regf_alloc_alloc(a, img, len, (int64_t)n, aux);
                if (cell < 0) return cell;
                memmove(img + cell_data((uint64_t)cell), data, n);
                regf_alloc_touch(a, cell_data((uint64_t)cell), n);
                st[1] = cell;
            }
            size = (uint32_t)n;
            field = (uint32_t)cell;
        }
        vkd = cell_data((uint64_t)vk);
        PUT_SIG(img + vkd, VK);
        wr16(img + vkd + REGF_VK_NAME_LENGTH, (uint16_t)stored);
        wr32(img + vkd + REGF_VK_DATA_SIZE, size);
        wr32(img + vkd + REGF_VK_DATA, field);
        wr32(img + vkd + REGF_VK_TYPE, vtype);
        wr16(img + vkd + REGF_VK_FLAGS, comp ? REGF_VALUE_COMP_NAME : 0);
        wr16(img + vkd + REGF_VK_SPARE, 0);
        for (i = 0; i < units; i++) {
            if (comp)
                img[vkd + REGF_VK_FIXED_SIZE + i] = name16[2 * i];
            else
                wr16(img + vkd + REGF_VK_FIXED_SIZE + 2 * i, rd16(name16 + 2 * i));
        }
        regf_alloc_touch(a, vkd, REGF_VK_FIXED_SIZE + stored);
        if (count == 0) /* first value: a list cell of one element */
            nl = regf_alloc_alloc(a, img, len, REGF_VALUE_LIST_ELEM_SIZE, aux);
        else
            nl = regf_alloc_realloc(a, img, len, vlist, value_list_bytes(count + 1), aux);
        if (nl < 0) return nl;
        wr32(entry, (uint32_t)vk);
        at = cell_data((uint64_t)nl) + REGF_VALUE_LIST_ELEM_SIZE * (uint64_t)count;
        memcpy(img + at, entry, REGF_VALUE_LIST_ELEM_SIZE);
        regf_alloc_touch(a, at, REGF_VALUE_LIST_ELEM_SIZE);
        count++;
        vlist = (uint32_t)nl;
        found = (uint64_t)vk + (uint64_t)REGF_CREATED;
    }
    /* The nk's last_written..max_value_data in one write, as Python: timestamp, count,
     * list and the maxima (high-water marks in UTF-16 bytes / data bytes, fmt 5.2). */
    wr64(img + nkd + REGF_NK_LAST_WRITTEN, timestamp);
    wr32(img + nkd + REGF_NK_VALUE_COUNT, count);
    wr32(img + nkd + REGF_NK_VALUE_LIST, vlist);
    max_name = rd32(img + nkd + REGF_NK_MAX_VALUE_NAME_LEN);
    max_data = rd32(img + nkd + REGF_NK_MAX_VALUE_DATA_LEN);
    if (max_name < name_bytes) wr32(img + nkd + REGF_NK_MAX_VALUE_NAME_LEN, name_bytes);
    if (max_data < n) wr32(img + nkd + REGF_NK_MAX_VALUE_DATA_LEN, (uint32_t)n);
    regf_alloc_touch(a, nkd + REGF_NK_LAST_WRITTEN,
                     REGF_NK_MAX_VALUE_DATA_LEN + REGF_NK_MAX_VALUE_DATA_LEN_BYTES -
                         REGF_NK_LAST_WRITTEN);
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
        /* meta: two u32 arrays (types, sizes), not a record of the format */
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