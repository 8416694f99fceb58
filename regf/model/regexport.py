"""Regedit ``.reg`` and JSON export, and a ``.reg`` parser (pure functions, no I/O).

The ``.reg`` writer follows what Windows ``regedit /e`` produces for "Windows Registry
Editor Version 5.00" files:

* ``"name"="text"`` only for REG_SZ whose raw data is valid UTF-16LE ending in exactly one
  NUL with no embedded NUL or line break (anything else would not survive a re-import
  byte for byte, or, for line breaks, an import by hivexregedit);
* ``dword:%08x`` only for a 4-byte REG_DWORD;
* ``hex:`` for REG_BINARY and ``hex(%x):`` (lowercase, unpadded type number) for every
  other type, unknown numbers included (``hex(b):`` QWORD, ``hex(7):`` MULTI_SZ);
* ``@=`` for the default (unnamed) value; ``\\`` and ``"`` escaped in names and strings;
* hex data wrapped like regedit: after each ``xx,`` the running column (which starts at the
  length of the ``"name"=hex:`` prefix) grows by 3; once it reaches 77 the line ends in
  ``,\\`` and continues on a line indented by two spaces (column reset to 2). This gives
  lines of at most 80 characters and 25 bytes per continuation line, as regedit does.

``hivexregedit --export`` differs from regedit (and is wrong where it differs): it never
wraps hex lines, writes REG_BINARY as ``hex(3):`` instead of ``hex:``, writes REG_SZ as
``hex(1):`` unless ``--unsafe-printable-strings`` (then a non-standard ``str(1):``), uses
``[\\path]`` headers without a root name, and sorts values by name instead of keeping the
on-disk order. Both import to the same bytes, which ``tests/test_regexport.py`` checks.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

REG_NONE = 0
REG_SZ = 1
REG_EXPAND_SZ = 2
REG_BINARY = 3
REG_DWORD = 4
REG_MULTI_SZ = 7

REGEDIT5_HEADER = "Windows Registry Editor Version 5.00"
REGEDIT4_HEADER = "REGEDIT4"

# Regedit's wrap threshold: a line is cut once its running length reaches this column.
_MAX_HEX_CHARS = 77
_CONTINUATION_INDENT = "  "


class RegParseError(ValueError):
    """A ``.reg`` text is malformed; ``line`` is the 1-based line number."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


# --------------------------------------------------------------------------- writing


def escape_reg_string(text: str) -> str:
    """Escape ``\\`` and ``"`` the way regedit does inside quoted names and strings."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units (regedit counts columns in WCHARs)."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def reg_sz_text(raw: bytes) -> str | None:
    """Return the text of REG_SZ data when regedit may print it as a quoted string.

    That is the case only when ``raw`` is valid UTF-16LE (even length, no lone surrogate),
    ends in exactly one NUL code unit and contains no other NUL. Otherwise ``None``.
    """
    if len(raw) < 2 or len(raw) % 2 or raw[-2:] != b"\x00\x00":
        return None
    try:
        text = raw[:-2].decode("utf-16-le", errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return text


def _name_prefix(name: str) -> str:
    return "@=" if name == "" else f'"{escape_reg_string(name)}"='


def hex_type_prefix(type_int: int) -> str:
    """``hex:`` for REG_BINARY, ``hex(%x):`` for any other type number."""
    return "hex:" if type_int == REG_BINARY else f"hex({type_int:x}):"


def wrap_hex(prefix: str, raw: bytes, newline: str = "\r\n") -> str:
    """Render ``prefix`` followed by comma-separated hex bytes, wrapped like regedit.

    Args:
        prefix: everything before the first byte, e.g. ``"Name"=hex(7):``; its length
            (in UTF-16 code units) is where the column count starts.
        raw: the data bytes.

    Returns:
        The text, possibly spanning several lines joined by ``newline`` (``,\\``
        continuation, two-space indent).
    """
    n = len(raw)
    if n == 0:
        return prefix
    # Byte i (not the last) moves the column by 3 and the line is cut once it reaches
    # _MAX_HEX_CHARS: so the first line holds ceil((77 - len(prefix)) / 3) bytes (at
    # least one) and each continuation line, starting at column 2, holds 25. Slicing
    # whole lines keeps big values from becoming one Python string per byte.
    first = max(1, -(-(_MAX_HEX_CHARS - _utf16_len(prefix)) // 3))
    per = -(-(_MAX_HEX_CHARS - len(_CONTINUATION_INDENT)) // 3)
    chunks = [raw[:first].hex(",")]
    chunks.extend(raw[i : i + per].hex(",") for i in range(first, n, per))
    return prefix + (",\\" + newline + _CONTINUATION_INDENT).join(chunks)


def reg_value_line(
    name: str, type_int: int, raw: bytes, newline: str = "\r\n", *, ascii_only: bool = False
) -> str:
    """Render one value as regedit 5.00 text.

    Args:
        name: value name (``""`` is the default value, written ``@``).
        type_int: the REG_* type number (any u32).
        raw: the value's raw data bytes.
        newline: line end used between wrapped hex lines (regedit files use CRLF).
        ascii_only: quote only ASCII strings. For files that are not UTF-16: regedit
            reads a BOM-less file as ANSI and hivexregedit reads bytes as Latin-1, so a
            quoted non-ASCII string would not import exactly; it goes out as hex(1).

    Returns:
        The value's text without a final line end. Wrapped hex data contains ``newline``;
        a REG_SZ with embedded line breaks is written as ``hex(1):`` (regedit would keep
        them literally, which other importers reject).
    """
    prefix = _name_prefix(name)
    if type_int == REG_SZ:
        text = reg_sz_text(raw)
        # A line break inside the quotes is kept by regedit but rejected by other
        # importers (hivexregedit): such strings go out as hex(1), exact either way.
        if (
            text is not None
            and "\n" not in text
            and "\r" not in text
            and (text.isascii() or not ascii_only)
        ):
            return f'{prefix}"{escape_reg_string(text)}"'
    elif type_int == REG_DWORD and len(raw) == 4:
        return f"{prefix}dword:{int.from_bytes(raw, 'little'):08x}"
    return wrap_hex(prefix + hex_type_prefix(type_int), raw, newline)


class ValueLike(Protocol):
    """What the exporters need from a value."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> int: ...

    @property
    def raw(self) -> bytes: ...


class KeyLike(Protocol):
    """What the exporters need from a key."""

    @property
    def name(self) -> str: ...

    def subkeys(self) -> Sequence[KeyLike]: ...

    def values(self) -> Sequence[ValueLike]: ...


def walk_with_paths(
    start: KeyLike, start_path: str, *, on_key: Callable[[KeyLike], None] | None = None
) -> Iterator[tuple[str, KeyLike]]:
    """Yield ``(display path, key)`` depth-first, pre-order, in stored subkey order.

    Paths are built from key names under ``start_path`` (so they do not depend on how the
    reader spells ``key.path``). Iterative, so deep hives cannot overflow the stack; keys
    with an ``index`` attribute already visited (a cycle) are skipped.
    """
    stack: list[tuple[str, KeyLike]] = [(start_path, start)]
    seen: set[int] = set()
    while stack:
        path, key = stack.pop()
        index = getattr(key, "index", None)
        if isinstance(index, int):
            if index in seen:  # a damaged hive whose subkey lists form a cycle
                continue
            seen.add(index)
        if on_key is not None:
            on_key(key)
        yield path, key
        children = key.subkeys()
        for child in reversed(children):
            child_path = f"{path}\\{child.name}" if path else child.name
            stack.append((child_path, child))


def key_pairs(source: Any, root_path_prefix: str | None = None) -> Iterator[tuple[str, Any]]:
    """Normalise an export source into ``(display path, key)`` pairs.

    Args:
        source: a hive (anything with ``.root``), a key (anything with ``.subkeys``), or
            an iterable of ``(path, key)`` pairs (passed through unchanged).
        root_path_prefix: display path of the starting key; default: its own name. E.g.
            ``HKEY_LOCAL_MACHINE\\SOFTWARE`` makes every path start with that.
    """
    if hasattr(source, "walk") and hasattr(source, "root"):
        # A hive: use its own walk (cycle- and depth-checked); key.path is root-relative.
        root_name = root_path_prefix if root_path_prefix is not None else source.root.name
        return (
            (f"{root_name}\\{key.path}" if key.path else root_name, key) for key in source.walk()
        )
    if hasattr(source, "subkeys"):
        start = root_path_prefix if root_path_prefix is not None else source.name
        return walk_with_paths(source, start)
    return iter(source)


def export_reg(
    source: Any,
    root_path_prefix: str | None = None,
    *,
    header: str = REGEDIT5_HEADER,
    newline: str = "\r\n",
) -> Iterator[str]:
    """Generate regedit 5.00 ``.reg`` text, one logical line at a time (no line end).

    Args:
        source: hive, key, or ``(display path, key)`` pairs; see :func:`key_pairs`.
        root_path_prefix: display path of the starting key (default: its name).
        header: first line of the file.
        newline: line end placed inside wrapped hex values; write every yielded item
            followed by the same line end.

    Yields:
        The header, a blank line, then per key ``[path]``, its values in stored order and
        a blank line, so the file ends in an empty line like regedit's.
    """
    yield header
    yield ""
    for path, key in key_pairs(source, root_path_prefix):
        yield f"[{path}]"
        for value in key.values():
            yield reg_value_line(value.name, int(value.type), bytes(value.raw), newline)
        yield ""


# --------------------------------------------------------------------------- JSON


def _iso(when: Any) -> str | None:
    if isinstance(when, _dt.datetime):
        return when.isoformat()
    return None


def json_safe_data(data: Any) -> Any:
    """Map decoded value data to JSON: str, list[str], int stay; bytes become hex text."""
    if isinstance(data, bool):
        return int(data)
    if isinstance(data, str | int):
        return data
    if isinstance(data, list | tuple):
        return [json_safe_data(item) for item in data]
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data).hex()
    return str(data)


def _type_name(type_value: Any) -> str:
    name = getattr(type_value, "name", None)
    return str(name) if name else f"REG_UNKNOWN_{int(type_value):#x}"


def key_json(path: str, key: Any) -> dict[str, Any]:
    """One JSON-ready object for a key: path, class, last_written (ISO) and values.

    Each value has ``name``, ``type`` (symbolic name), ``type_id``, ``data`` (JSON-safe
    decoded data, or ``null`` if it could not be decoded) and ``raw`` (hex).
    """
    values: list[dict[str, Any]] = []
    for value in key.values():
        try:
            data = json_safe_data(value.data)
        except Exception:  # a corrupt value still exports its raw bytes
            data = None
        values.append(
            {
                "name": value.name,
                "type": _type_name(value.type),
                "type_id": int(value.type),
                "data": data,
                "raw": bytes(value.raw).hex(),
            }
        )
    return {
        "path": path,
        "class": getattr(key, "class_name", None),
        "last_written": _iso(getattr(key, "last_written", None)),
        "values": values,
    }


def export_json(
    source: Any, root_path_prefix: str | None = None, *, lines: bool = False
) -> Iterator[str]:
    """Generate JSON text lines: an array with one key object per line, or JSON Lines.

    Args:
        source: hive, key, or ``(display path, key)`` pairs; see :func:`key_pairs`.
        root_path_prefix: display path of the starting key (default: its name).
        lines: ``True`` for JSON Lines (no enclosing array).
    """
    keys = key_pairs(source, root_path_prefix)
    if lines:
        for path, key in keys:
            yield json.dumps(key_json(path, key), ensure_ascii=False)
        return
    yield "["
    pending: str | None = None
    for path, key in keys:
        if pending is not None:
            yield pending + ","
        pending = json.dumps(key_json(path, key), ensure_ascii=False)
    if pending is not None:
        yield pending
    yield "]"


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class CreateKey:
    """``[path]``: create (or open) a key."""

    path: str


@dataclass(frozen=True)
class DeleteKey:
    """``[-path]``: delete a key and its subtree."""

    path: str


@dataclass(frozen=True)
class SetValue:
    """``"name"=...``: set a value under ``path`` (name ``""`` is the default value)."""

    path: str
    name: str
    type: int
    raw: bytes


@dataclass(frozen=True)
class DeleteValue:
    """``"name"=-``: delete a value under ``path``."""

    path: str
    name: str


RegOperation = CreateKey | DeleteKey | SetValue | DeleteValue

# Types whose hex data regedit converts from the ANSI code page in REGEDIT4 files
# (RegSetValueExA semantics).
_ANSI_STRING_TYPES = frozenset({REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ})
_QUOTE_SPECIAL = re.compile(r'["\\]')
#: Comma-separated two-digit hex bytes, the form regedit writes: checked by one match.
_HEX_PAIRS = re.compile(r"[0-9A-Fa-f]{2}(?:,[0-9A-Fa-f]{2})*")


def _ansi_to_utf16(raw: bytes, codepage: str) -> bytes:
    try:
        text = raw.decode(codepage)
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.encode("utf-16-le")


class _Cursor:
    """Character cursor over the whole text; tracks the line number for errors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1

    def eof(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def rest_of_line(self) -> str:
        """Consume up to and including the next line end; return it without the end."""
        text = self.text
        # str.find, not a loop over characters (hex data lines make up most of a .reg);
        # the CR search stops at the LF, so an LF-only file is not rescanned to its end
        # for every line
        end = text.find("\n", self.pos)
        if end < 0:
            end = len(text)
        cr = text.find("\r", self.pos, end)
        if cr >= 0:
            end = cr
        chunk = text[self.pos : end]
        self.pos = end
        self._eat_eol()
        return chunk

    def _eat_eol(self) -> None:
        if self.text.startswith("\r\n", self.pos):
            self.pos += 2
            self.line += 1
        elif self.pos < len(self.text) and self.text[self.pos] in "\r\n":
            self.pos += 1
            self.line += 1

    def skip_blanks(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1


def _read_quoted(cur: _Cursor, *, unicode_file: bool) -> str:
    """Read a ``"..."`` string (cursor on the opening quote); may span lines."""
    text = cur.text
    start = cur.pos
    pos = start + 1
    out: list[str] = []
    while True:
        match = _QUOTE_SPECIAL.search(text, pos)
        if match is None:
            raise RegParseError("unterminated string", cur.line)
        out.append(text[pos : match.start()])
        pos = match.end()
        if match.group() == '"':
            break
        nxt = text[pos : pos + 1]
        if nxt in ('"', "\\"):
            out.append(nxt)
            pos += 1
        elif nxt == "n" and unicode_file:
            out.append("\n")
            pos += 1
        else:  # regedit keeps an unknown escape as it is
            out.append("\\")
    cur.line += text.count("\n", start, pos)
    cur.pos = pos
    return "".join(out)


def _parse_hex_bytes(cur: _Cursor, first: str, line: int) -> bytes:
    """Parse comma-separated hex bytes, following ``\\`` continuations and ``;`` lines."""
    chunks: list[str] = []
    body = first
    while True:
        stripped = body.rstrip(" \t")
        if stripped.endswith("\\"):
            chunks.append(stripped[:-1])
            # Continuation: skip comment / blank lines like regedit, then take the next one.
            while True:
                if cur.eof():
                    body = ""
                    break
                nxt = cur.rest_of_line().lstrip(" \t")
                if nxt.startswith(";") or nxt == "":
                    continue
                body = nxt
                break
            if body == "":
                break
            continue
        chunks.append(stripped)
        break
    joined = "".join(chunks).replace(" ", "").replace("\t", "")
    if ";" in joined:  # trailing comment after the data
        joined = joined.split(";", 1)[0]
    joined = joined.rstrip(",")
    if joined == "":
        return b""
    if _HEX_PAIRS.fullmatch(joined):
        return bytes.fromhex(joined.replace(",", ""))
    items = joined.split(",")  # one-digit bytes, or a bad item to report
    out = bytearray()
    for item in items:
        if not (1 <= len(item) <= 2) or any(c not in "0123456789abcdefABCDEF" for c in item):
            raise RegParseError(f"bad hex byte {item!r}", line)
        out.append(int(item, 16))
    return bytes(out)


def _parse_value_data(
    cur: _Cursor, line: int, *, unicode_file: bool, codepage: str
) -> tuple[int, bytes] | None:
    """Parse the part after ``=``; ``None`` means ``-`` (delete)."""
    cur.skip_blanks()
    if cur.peek() == '"':
        text = _read_quoted(cur, unicode_file=unicode_file)
        trailing = cur.rest_of_line().strip()
        if trailing and not trailing.startswith(";"):
            raise RegParseError(f"junk after string: {trailing!r}", line)
        # REGEDIT4 strings are ANSI text; either way the hive stores UTF-16LE.
        return REG_SZ, (text + "\x00").encode("utf-16-le", errors="surrogatepass")
    rest = cur.rest_of_line()
    body = rest.strip(" \t")
    lower = body.lower()
    if body == "-" or (body.startswith("-") and body[1:].lstrip().startswith(";")):
        return None
    if lower.startswith("dword:"):
        digits = body[6:].split(";", 1)[0].strip()
        if not (1 <= len(digits) <= 8) or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise RegParseError(f"bad dword {digits!r}", line)
        return REG_DWORD, int(digits, 16).to_bytes(4, "little")
    if lower.startswith("hex:"):
        return REG_BINARY, _parse_hex_bytes(cur, body[4:], line)
    if lower.startswith("hex("):
        close = body.find("):")
        if close < 0:
            raise RegParseError(f"bad hex type in {body[:20]!r}", line)
        type_text = body[4:close]
        try:
            type_int = int(type_text, 16)
        except ValueError:
            raise RegParseError(f"bad hex type {type_text!r}", line) from None
        if not 0 <= type_int <= 0xFFFFFFFF:
            raise RegParseError(f"hex type out of range {type_text!r}", line)
        raw = _parse_hex_bytes(cur, body[close + 2 :], line)
        if not unicode_file and type_int in _ANSI_STRING_TYPES:
            raw = _ansi_to_utf16(raw, codepage)
        return type_int, raw
    raise RegParseError(f"unrecognised value data {body[:40]!r}", line)


def parse_reg(text: str, *, ansi_codepage: str = "cp1252") -> list[RegOperation]:
    """Parse ``.reg`` text (regedit 5.00 or REGEDIT4) into operations.

    Handles CRLF or LF line ends, a leading BOM, ``;`` comment lines, ``[key]`` /
    ``[-key]`` headers, ``"name"=`` / ``@=`` values (string, ``dword:``, ``hex:``,
    ``hex(n):`` with ``\\`` continuations, ``-`` to delete), and quoted strings that span
    lines (regedit writes REG_SZ with embedded line breaks literally).

    REGEDIT4 files hold ANSI text: their strings and ``hex(1)``/``hex(2)``/``hex(7)`` data
    are converted to UTF-16LE (from ``ansi_codepage`` for hex data), as regedit's import
    does through RegSetValueExA.

    Args:
        text: the whole file, already decoded to ``str``.
        ansi_codepage: code page for REGEDIT4 hex string data.

    Returns:
        Operations in file order.

    Raises:
        RegParseError: on a missing/unknown header or malformed data.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    cur = _Cursor(text)
    header = cur.rest_of_line().strip()
    if header == REGEDIT5_HEADER:
        unicode_file = True
    elif header == REGEDIT4_HEADER:
        unicode_file = False
    else:
        raise RegParseError(f"not a .reg file (header {header[:40]!r})", 1)

    ops: list[RegOperation] = []
    current: str | None = None
    while not cur.eof():
        cur.skip_blanks()
        line = cur.line
        ch = cur.peek()
        if ch in ("\r", "\n", ""):
            cur.rest_of_line()
            continue
        if ch == ";":
            cur.rest_of_line()
            continue
        if ch == "[":
            body = cur.rest_of_line().rstrip(" \t")
            if not body.endswith("]"):
                raise RegParseError("key header without closing ']'", line)
            path = body[1:-1]
            if path.startswith("-"):
                ops.append(DeleteKey(path[1:]))
                current = None
            else:
                ops.append(CreateKey(path))
                current = path
            continue
        if ch == '"' or ch == "@":
            if ch == "@":
                cur.take()
                name = ""
            else:
                name = _read_quoted(cur, unicode_file=unicode_file)
            cur.skip_blanks()
            if cur.peek() != "=":
                raise RegParseError("expected '=' after value name", line)
            cur.take()
            parsed = _parse_value_data(cur, line, unicode_file=unicode_file, codepage=ansi_codepage)
            if current is None:
                raise RegParseError("value outside of a key", line)
            if parsed is None:
                ops.append(DeleteValue(current, name))
            else:
                ops.append(SetValue(current, name, parsed[0], parsed[1]))
            continue
        raise RegParseError(f"unexpected text {cur.rest_of_line()[:40]!r}", line)
    return ops


__all__ = [
    "REGEDIT4_HEADER",
    "REGEDIT5_HEADER",
    "CreateKey",
    "DeleteKey",
    "DeleteValue",
    "KeyLike",
    "RegOperation",
    "RegParseError",
    "SetValue",
    "ValueLike",
    "escape_reg_string",
    "export_json",
    "export_reg",
    "hex_type_prefix",
    "json_safe_data",
    "key_pairs",
    "key_json",
    "parse_reg",
    "reg_sz_text",
    "reg_value_line",
    "walk_with_paths",
    "wrap_hex",
]
