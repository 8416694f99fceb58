"""Stateful property test of the in-place writer against a plain dict model.

Random sequences of create (stable and volatile, with classes) / delete (recursive or
not) / rename / set-value / delete-value / set-security, with ``save_as`` + reopen and
flush + reopen ``mode="r+"`` at random points (editing then continues on the reopened
image: the serializer's compact layout, or the writer's own image with its free
holes). After every step the hive equals the model and the image passes every
structural check (``regf check``'s walk and tiling, sk ring and reference counts, sorted
and hashed lists, parent pointers, no leaked cell: ``test_inplace.structure_problems``).
Handles taken at random points must follow their key through renames of it and of its
ancestors and die with it.

Runs once per allocator twin (pure Python, and C when built), whatever REGF_BACKEND is.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from test_inplace import SD_SYSTEM, clean_copy, structure_problems

import regf
from regf._accel import upcase
from regf.cells.alloc import PyCellAllocator
from regf.model.edit import ChildMustBeVolatileError, EditHive, EditKey, open_editable
from regf.model.serialize import DEFAULT_SECURITY

try:
    from regf.cells.alloc import CCellAllocator

    CCellAllocator(bytearray(4096))  # the C extension is built
    HAVE_C = True
except Exception:  # ImportError, or an extension without the allocator
    HAVE_C = False

NAMES = st.sampled_from(
    ["a", "A", "b", "Key", "KEY", "é", "É", "Straße", "日本", "x" * 60, "\U0001f600", "ÿ"]
)
VNAMES = st.sampled_from(["", "v", "V", "data", "DATA", "ü", "Ü", "n" * 300, "Ω"])
VTYPES = st.sampled_from([0, 1, 3, 4, 7, 11, 0x1234])
RAWS = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b"x" * 100, bytes(16344), bytes(16345), bytes(range(256)) * 100]),
)
DESCRIPTORS = st.sampled_from([DEFAULT_SECURITY, SD_SYSTEM])

Flat = dict[tuple[str, ...], tuple[str | None, bool, list[tuple[str, int, bytes]]]]


class _Node:
    def __init__(self, name: str, cls: str | None = None, volatile: bool = False) -> None:
        self.name = name
        self.cls = cls
        self.volatile = volatile
        self.values: dict[str, tuple[str, int, bytes]] = {}
        self.children: dict[str, _Node] = {}


def flat(hive: Any) -> Flat:
    """Canonical form of a hive: path -> (class, volatile, values in stored order)."""
    out: Flat = {}
    for k in hive.walk():
        path = tuple(k.path.split("\\")) if k.path else ()
        vol = bool(getattr(k, "volatile", False))
        out[path] = (k.class_name or None, vol, [(v.name, int(v.type_), v.raw) for v in k.values()])
    return out


class WriterMachine(RuleBasedStateMachine):
    """Random edits on an in-place EditHive and on a dict model; they must agree."""

    allocator: Callable[[bytearray], Any] = PyCellAllocator

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="regf-stateful-"))
        self.hive: EditHive | None = None
        self.model = _Node("ROOT")
        self.saves = 0
        self.handles: list[tuple[EditKey, _Node]] = []

    # -- setup ---------------------------------------------------------------------------

    @initialize(minor=st.sampled_from([3, 4, 5, 6]))
    def start(self, minor: int) -> None:
        self.hive = EditHive(
            minor=minor,
            target=self.dir / "main.hiv",
            file_name="main.hiv",
            allocator=self.allocator,
        )

    def teardown(self) -> None:
        if self.hive is not None:
            self.hive.discard()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- model helpers -------------------------------------------------------------------

    def nodes(self) -> list[tuple[tuple[str, ...], _Node]]:
        out: list[tuple[tuple[str, ...], _Node]] = []
        stack: list[tuple[tuple[str, ...], _Node]] = [((), self.model)]
        while stack:
            path, node = stack.pop()
            out.append((path, node))
            stack.extend(((*path, c.name), c) for c in node.children.values())
        return sorted(out, key=lambda pn: pn[0])

    def paths(self) -> list[tuple[str, ...]]:
        return [p for p, _n in self.nodes()]

    def node(self, path: tuple[str, ...]) -> _Node:
        n = self.model
        for part in path:
            n = n.children[upcase(part)]
        return n

    def model_flat(self, stable_only: bool = False) -> Flat:
        out: Flat = {}
        for path, node in self.nodes():
            if stable_only and node.volatile:
                continue
            out[path] = (node.cls, node.volatile, list(node.values.values()))
        return out

    def drop_volatile(self) -> None:
        stack = [self.model]
        while stack:
            n = stack.pop()
            n.children = {k: c for k, c in n.children.items() if not c.volatile}
            stack.extend(n.children.values())

    @property
    def h(self) -> EditHive:
        assert self.hive is not None
        return self.hive

    # -- rules ---------------------------------------------------------------------------

    @rule(
        data=st.data(),
        names=st.lists(NAMES, min_size=1, max_size=2),
        cls=st.one_of(st.none(), st.sampled_from(["C", "类"])),
        volatile=st.booleans(),
    )
    def create_key(
        self, data: st.DataObject, names: list[str], cls: str | None, volatile: bool
    ) -> None:
        parent = data.draw(st.sampled_from(self.paths()))
        if len(parent) + len(names) > 4:
            return
        path = "\\".join((*parent, *names))
        # what the model says will happen
        node = self.node(parent)
        i = 0
        while i < len(names) and upcase(names[i]) in node.children:
            node = node.children[upcase(names[i])]
            i += 1
        if i < len(names) and node.volatile and not volatile:
            with pytest.raises(ChildMustBeVolatileError):
                self.h.create_key(path, class_name=cls, volatile=volatile)
            return
        k = self.h.create_key(path, class_name=cls, volatile=volatile)
        created = i < len(names)
        for j in range(i, len(names)):
            new = _Node(names[j], cls if j == len(names) - 1 else None, volatile)
            node.children[upcase(names[j])] = new
            node = new
        assert k.name == node.name and (k.class_name or None) == node.cls
        assert k.volatile == node.volatile
        if created:
            self.handles.append((k, node))

    @precondition(lambda self: len(self.paths()) > 1)
    @rule(data=st.data(), recursive=st.booleans())
    def delete_key(self, data: st.DataObject, recursive: bool) -> None:
        path = data.draw(st.sampled_from([p for p in self.paths() if p]))
        node = self.node(path)
        if node.children and not recursive:
            with pytest.raises(regf.InvalidArgumentError):
                self.h.delete_key("\\".join(path), recursive=recursive)
            return
        self.h.delete_key("\\".join(path), recursive=recursive)
        del self.node(path[:-1]).children[upcase(path[-1])]

    @precondition(lambda self: len(self.paths()) > 1)
    @rule(data=st.data(), name=NAMES)
    def rename_key(self, data: st.DataObject, name: str) -> None:
        path = data.draw(st.sampled_from([p for p in self.paths() if p]))
        parent = self.node(path[:-1])
        old, new = upcase(path[-1]), upcase(name)
        if new != old and new in parent.children:
            with pytest.raises(regf.InvalidArgumentError):
                self.h.rename_key("\\".join(path), name)
            return
        self.h.rename_key("\\".join(path), name)
        node = parent.children.pop(old)
        node.name = name
        parent.children[new] = node

    @rule(data=st.data(), name=VNAMES, vtype=VTYPES, raw=RAWS)
    def set_value(self, data: st.DataObject, name: str, vtype: int, raw: bytes) -> None:
        path = data.draw(st.sampled_from(self.paths()))
        v = self.h.open_key("\\".join(path)).set_value(name, raw, vtype)
        node = self.node(path)
        old = node.values.get(upcase(name))
        node.values[upcase(name)] = (old[0] if old else name, vtype, raw)
        assert (v.name, v.type_, v.raw) == node.values[upcase(name)]

    @rule(data=st.data(), name=VNAMES)
    def delete_value(self, data: st.DataObject, name: str) -> None:
        path = data.draw(st.sampled_from(self.paths()))
        key = self.h.open_key("\\".join(path))
        node = self.node(path)
        if upcase(name) not in node.values:
            with pytest.raises(regf.ValueNotFoundError):
                key.delete_value(name)
            return
        key.delete_value(name)
        del node.values[upcase(name)]

    @rule(data=st.data(), sd=DESCRIPTORS)
    def set_security(self, data: st.DataObject, sd: bytes) -> None:
        path = data.draw(st.sampled_from(self.paths()))
        key = self.h.open_key("\\".join(path))
        key.security_raw = sd
        assert key.security_raw == sd

    @rule(data=st.data())
    def take_handle(self, data: st.DataObject) -> None:
        path, node = data.draw(st.sampled_from(self.nodes()))
        self.handles.append((self.h.open_key("\\".join(path)), node))

    @rule(reopen=st.booleans())
    def save_and_reopen(self, reopen: bool) -> None:
        self.saves += 1
        p = self.dir / f"save{self.saves}.hiv"
        self.h.save_as(p)
        with regf.open(p) as r:
            assert flat(r) == self.model_flat(stable_only=True)
        if reopen:  # continue editing the serializer's compact layout
            self.h.discard()
            self.hive = open_editable(p, allocator=self.allocator)
            self.drop_volatile()
            self.handles = []

    @rule()
    def flush_and_reopen(self) -> None:
        """The writer's own image (with its free holes) written and edited again."""
        self.saves += 1
        p = self.dir / f"image{self.saves}.hiv"
        if self.h.target is not None:  # a created hive writes its image on flush
            self.h.target = p
            self.h.flush()
        else:
            p.write_bytes(clean_copy(self.h))
        self.h.discard()
        self.hive = open_editable(p, allocator=self.allocator)
        self.drop_volatile()
        self.handles = []

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def hive_matches_model(self) -> None:
        if self.hive is None:
            return
        assert flat(self.hive) == self.model_flat()

    @invariant()
    def image_is_sound(self) -> None:
        if self.hive is None:
            return
        assert structure_problems(self.hive) == []

    @invariant()
    def handles_follow_keys(self) -> None:
        if self.hive is None:
            return
        alive = {id(n): p for p, n in self.nodes()}
        for handle, node in self.handles:
            if id(node) in alive:
                assert not handle.deleted
                assert handle.path == "\\".join(alive[id(node)])
            else:
                assert handle.deleted


# Scales with HYPOTHESIS_PROFILE (dev: 25 runs, ci: 150).
_SETTINGS = settings(
    max_examples=max(10, settings().max_examples // 2), stateful_step_count=40, deadline=None
)

TestWriterPython = WriterMachine.TestCase
TestWriterPython.settings = _SETTINGS


class CWriterMachine(WriterMachine):
    """The same machine over the C allocator twin."""

    if HAVE_C:
        allocator = CCellAllocator


TestWriterC = pytest.mark.skipif(not HAVE_C, reason="C allocator not built")(
    CWriterMachine.TestCase
)
TestWriterC.settings = _SETTINGS
