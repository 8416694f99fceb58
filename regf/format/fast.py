"""``struct.Struct`` twins of the fixed-size heads in :mod:`regf.format.structs`.

Hot paths (the tree walk) unpack with these instead of Construct. Their field order is
the Construct declaration's order; ``tests/test_format_structs.py`` parses random bytes
with both and requires equal results, so the two cannot drift apart.
"""

from __future__ import annotations

import struct

# KeyNode up to and including class_length (name follows at +0x4C).
NK = struct.Struct("<2sHQBBHIIIIIIIIIHBBIIIIHH")
# KeyValue up to and including spare (name follows at +0x14).
VK = struct.Struct("<2sHIIIHH")
# KeySecurity up to descriptor_length (descriptor follows at +0x14).
SK = struct.Struct("<2sHIIII")
HBIN = struct.Struct("<4sII8sQI")
DB = struct.Struct("<2sHI")
LIST_HEAD = struct.Struct("<2sH")
BASE_HEAD = struct.Struct("<4sIIQIIIIIII64s16s16sI16s4sQ332sI")
HVLE = struct.Struct("<4sIIIIIQQ")
I32 = struct.Struct("<i")
U32 = struct.Struct("<I")

NK_FIELDS = [
    "signature",
    "flags",
    "last_written",
    "access_bits",
    "layered_bits",
    "spare",
    "parent",
    "subkey_count",
    "volatile_subkey_count",
    "subkey_list",
    "volatile_subkey_list",
    "value_count",
    "value_list",
    "security",
    "class_cell",
    "max_name_len",
    "user_virt_flags",
    "debug",
    "max_class_len",
    "max_value_name_len",
    "max_value_data_len",
    "work_var",
    "name_length",
    "class_length",
]
VK_FIELDS = ["signature", "name_length", "data_size", "data", "type", "flags", "spare"]
SK_FIELDS = ["signature", "reserved", "flink", "blink", "reference_count", "descriptor_length"]
HBIN_FIELDS = ["signature", "offset", "size", "reserved", "timestamp", "spare"]
DB_FIELDS = ["signature", "segment_count", "segment_list"]
BASE_FIELDS = [
    "signature",
    "seq1",
    "seq2",
    "last_written",
    "major",
    "minor",
    "file_type",
    "file_format",
    "root_cell",
    "hbins_size",
    "clustering",
    "file_name",
    "rm_id",
    "log_id",
    "flags",
    "tm_id",
    "guid_signature",
    "last_reorganized",
    "reserved1",
    "checksum",
]
HVLE_FIELDS = [
    "signature",
    "size",
    "flags",
    "sequence",
    "hbins_size",
    "page_count",
    "hash1",
    "hash2",
]
