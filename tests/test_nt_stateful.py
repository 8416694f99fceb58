"""Random Zw* call sequences with filter callbacks, against a model.

The model predicts every call's NTSTATUS (or result) from a plain tree of keys and a
table of handles; a registered policy callback blocks, bypasses, rewrites output and
raises exceptions for names with certain prefixes, so callback handling is exercised in
the same runs. After flushes the hive file (read back with the reader) must hold exactly
the model's stable keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from hypothesis import event, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import regf
from regf import nt

ROOT = r"\Registry\Machine\FUZZ"
N = nt.REG_NOTIFY_CLASS
S = nt.NTSTATUS

KEY_NAMES = ["a", "A", "b1", "Bk", "P2", "M3", "dX", "eQ", "E4", "zz"]
VALUE_NAMES = ["", "v", "V", "B1", "P2", "M3", "w"]
# Mostly full access, so that most calls get past the access check.
ACCESSES = [nt.KEY_ALL_ACCESS] * 6 + [nt.KEY_READ, nt.KEY_WRITE, nt.DELETE | nt.KEY_READ, 0]
TYPES = [nt.REG_NONE, nt.REG_SZ, nt.REG_BINARY, nt.REG_DWORD, 0x12345]


class Boom(Exception):
    pass


@dataclass(eq=False)
class MKey:
    name: str
    volatile: bool
    parent: MKey | None
    children: dict[str, MKey] = field(default_factory=dict)
    values: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    alive: bool = True

    def sorted_children(self) -> list[MKey]:
        stable = sorted((c for c in self.children.values() if not c.volatile), key=_order)
        vol = sorted((c for c in self.children.values() if c.volatile), key=_order)
        return stable + vol

    @property
    def path(self) -> str:
        parts = []
        k: MKey | None = self
        while k is not None and k.parent is not None:
            parts.append(k.name)
            k = k.parent
        return "\\".join(reversed(parts))


def _order(k: MKey) -> list[int]:
    return list(k.name.upper().encode("utf-16-le"))  # ASCII names: code-unit order


def policy(cls: N, info: Any) -> int:
    """Blocks SetValueKey of "B*" names, bypasses it for "P*", rewrites QueryValueKey
    output for "M*", blocks CreateKeyEx of "*X", bypasses DeleteKey of "*Q", raises in
    RenameKey to "E*"."""
    if cls == N.RegNtPreSetValueKey:
        up = info.ValueName.upper()
        if up.startswith("B"):
            return S.STATUS_ACCESS_DENIED
        if up.startswith("P"):
            return S.STATUS_CALLBACK_BYPASS
    elif cls == N.RegNtPostQueryValueKey:
        if info.Status == S.STATUS_SUCCESS and info.PreInformation.ValueName.upper().startswith(
            "M"
        ):
            info.PreInformation.KeyValueInformation = nt.KEY_VALUE_PARTIAL_INFORMATION.make(
                nt.REG_BINARY, b"MOD"
            )
    elif cls == N.RegNtPreCreateKeyEx:
        if info.CompleteName.upper().endswith("X"):
            return 0xC0000022
    elif cls == N.RegNtPreDeleteKey:
        if info.Object.name.upper().endswith("Q"):
            return S.STATUS_CALLBACK_BYPASS
    elif cls == N.RegNtPreRenameKey and info.NewName.upper().startswith("E"):
        raise Boom(info.NewName)
    return S.STATUS_SUCCESS


class NtMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        import tempfile
        from pathlib import Path

        self._tmp = tempfile.TemporaryDirectory()
        self.file = Path(self._tmp.name) / "fuzz.hiv"
        self.reg = nt.Registry(lazy_flush=None)
        self.reg.load_hive(ROOT, self.file, create_new=True)
        self.root = MKey("FUZZ", False, None)
        self.handles: dict[int, tuple[MKey, int]] = {}
        self.issued: list[int] = []
        self.cookie: int | None = None

    def teardown(self) -> None:
        self.reg.close()  # flushes
        assert self.file.exists(), "close() did not write the hive"
        self._compare_file()
        self._tmp.cleanup()

    # -- helpers -------------------------------------------------------------------------

    def _expect(self, expected: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn``; ``expected`` is an NTSTATUS failure, a Boom, or None (success)."""
        name = getattr(fn, "__name__", "?")
        event(f"{name}: {'ok' if expected is None else getattr(expected, 'name', expected)}")
        try:
            result = fn(*args, **kwargs)
        except nt.NtStatusError as err:
            assert expected is not None and not isinstance(expected, type), (
                f"unexpected {err.status.name}"
            )
            assert err.status == expected, f"{err.status.name} != {S(expected).name}"
            return None
        except Boom:
            assert expected is Boom
            return None
        assert expected is None, f"expected {expected!r}, got success"
        return result

    def _pick(self, data: st.DataObject) -> int:
        """Mostly open handles; sometimes closed ones or a never-issued value."""
        open_ = sorted(self.handles)
        kind = data.draw(st.integers(0, 9))
        if open_ and kind < 8:
            return data.draw(st.sampled_from(open_))
        if self.issued and kind < 9:
            return data.draw(st.sampled_from(self.issued))
        return 0x7777

    def _handle_state(self, h: int, need: int) -> tuple[Any, MKey | None]:
        """(status from the handle/access check or None, the key)."""
        if h not in self.handles:
            return S.STATUS_INVALID_HANDLE, None
        key, granted = self.handles[h]
        if need & ~granted:
            return S.STATUS_ACCESS_DENIED, key
        return None, key

    @property
    def cb(self) -> bool:
        return self.cookie is not None

    def _new_handle(self, h: int, key: MKey, access: int) -> None:
        self.handles[h] = (key, nt.map_generic_access(access))
        self.issued.append(h)

    # -- rules ---------------------------------------------------------------------------

    @rule(
        data=st.data(),
        name=st.sampled_from(KEY_NAMES),
        volatile=st.booleans(),
        access=st.sampled_from(ACCESSES),
        relative=st.booleans(),
    )
    def create_key(self, data, name, volatile, access, relative):
        opts = nt.REG_OPTION_VOLATILE if volatile else 0
        if relative and self.issued:
            h = self._pick(data)
            status, parent = self._handle_state(h, 0)
            if status is None and parent is not None and not parent.alive:
                status = S.STATUS_KEY_DELETED
            args = (name, access, h, None, opts)
        else:
            status, parent = None, self.root
            args = (ROOT + "\\" + name, access, None, None, opts)
        existing = None
        if status is None and self.cb and name.upper().endswith("X"):
            status = 0xC0000022
        if status is None:
            assert parent is not None
            existing = parent.children.get(name.upper())
            if existing is None and not volatile and parent.volatile:
                status = S.STATUS_CHILD_MUST_BE_VOLATILE
        result = self._expect(status, self.reg.ZwCreateKey, *args)
        if result is not None:
            handle, disp = result
            assert parent is not None
            if existing is None:
                assert disp == nt.REG_CREATED_NEW_KEY
                existing = parent.children[name.upper()] = MKey(name, volatile, parent)
            else:
                assert disp == nt.REG_OPENED_EXISTING_KEY
            self._new_handle(handle, existing, access)

    @rule(data=st.data(), name=st.sampled_from([*KEY_NAMES, ""]), access=st.sampled_from(ACCESSES))
    def open_key(self, data, name, access):
        path = ROOT + ("\\" + name if name else "")
        key = self.root if not name else self.root.children.get(name.upper())
        status = None if key is not None else S.STATUS_OBJECT_NAME_NOT_FOUND
        handle = self._expect(status, self.reg.ZwOpenKey, path, access)
        if handle is not None:
            assert key is not None
            self._new_handle(handle, key, access)

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def close(self, data):
        h = self._pick(data)
        status = None if h in self.handles else S.STATUS_INVALID_HANDLE
        self._expect(status, self.reg.ZwClose, h)
        self.handles.pop(h, None)

    @precondition(lambda self: self.issued)
    @rule(
        data=st.data(),
        name=st.sampled_from(VALUE_NAMES),
        vtype=st.sampled_from(TYPES),
        payload=st.binary(max_size=24),
    )
    def set_value(self, data, name, vtype, payload):
        h = self._pick(data)
        status, key = self._handle_state(h, nt.KEY_SET_VALUE)
        bypass = False
        if status is None and self.cb:
            if name.upper().startswith("B"):
                status = S.STATUS_ACCESS_DENIED
            bypass = name.upper().startswith("P")
        if status is None and not bypass and key is not None and not key.alive:
            status = S.STATUS_KEY_DELETED
        self._expect(status, self.reg.ZwSetValueKey, h, name, vtype, payload)
        if status is None and not bypass:
            assert key is not None
            old = key.values.get(name.upper())
            key.values[name.upper()] = (old[0] if old else name, vtype, payload)

    @precondition(lambda self: self.issued)
    @rule(data=st.data(), name=st.sampled_from(VALUE_NAMES))
    def delete_value(self, data, name):
        h = self._pick(data)
        status, key = self._handle_state(h, nt.KEY_SET_VALUE)
        if status is None and key is not None:
            if not key.alive:
                status = S.STATUS_KEY_DELETED
            elif name.upper() not in key.values:
                status = S.STATUS_OBJECT_NAME_NOT_FOUND
        self._expect(status, self.reg.ZwDeleteValueKey, h, name)
        if status is None:
            assert key is not None
            del key.values[name.upper()]

    @precondition(lambda self: self.issued)
    @rule(data=st.data(), name=st.sampled_from(VALUE_NAMES))
    def query_value(self, data, name):
        h = self._pick(data)
        status, key = self._handle_state(h, nt.KEY_QUERY_VALUE)
        if status is None and key is not None:
            if not key.alive:
                status = S.STATUS_KEY_DELETED
            elif name.upper() not in key.values:
                status = S.STATUS_OBJECT_NAME_NOT_FOUND
        info = self._expect(
            status, self.reg.ZwQueryValueKey, h, name, nt.KeyValuePartialInformation
        )
        if status is None:
            assert key is not None
            _, vtype, payload = key.values[name.upper()]
            if self.cb and name.upper().startswith("M"):
                assert (info.Type, info.Data) == (nt.REG_BINARY, b"MOD")
            else:
                assert (info.Type, info.Data) == (vtype, payload)

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def delete_key(self, data):
        h = self._pick(data)
        status, key = self._handle_state(h, nt.DELETE)
        bypass = False
        if status is None and key is not None:
            # The callback sees the key object (even a deleted key's) before the operation.
            bypass = self.cb and key.name.upper().endswith("Q")
            if bypass:
                pass
            elif not key.alive:
                status = S.STATUS_KEY_DELETED
            elif key.parent is None or key.children:
                status = S.STATUS_CANNOT_DELETE
        self._expect(status, self.reg.ZwDeleteKey, h)
        if status is None and not bypass:
            assert key is not None and key.parent is not None
            del key.parent.children[key.name.upper()]
            key.alive = False

    @precondition(lambda self: self.issued)
    @rule(data=st.data(), new=st.sampled_from(KEY_NAMES))
    def rename_key(self, data, new):
        h = self._pick(data)
        status, key = self._handle_state(h, nt.KEY_WRITE)
        if status is None and self.cb and new.upper().startswith("E"):
            status = Boom
        if status is None and key is not None:
            if not key.alive:
                status = S.STATUS_KEY_DELETED
            elif key.parent is None:
                status = S.STATUS_ACCESS_DENIED
            elif new.upper() in key.parent.children:
                status = S.STATUS_CANNOT_DELETE
        self._expect(status, self.reg.ZwRenameKey, h, new)
        if status is None:
            assert key is not None and key.parent is not None
            del key.parent.children[key.name.upper()]
            key.name = new
            key.parent.children[new.upper()] = key

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def enumerate_and_compare(self, data):
        h = self._pick(data)
        status, key = self._handle_state(h, nt.KEY_QUERY_VALUE | nt.KEY_ENUMERATE_SUB_KEYS)
        if status is not None or key is None:
            return
        if not key.alive:
            self._expect(S.STATUS_KEY_DELETED, self.reg.ZwQueryKey, h, nt.KeyFullInformation)
            return
        full = self.reg.ZwQueryKey(h, nt.KeyFullInformation)
        assert (full.SubKeys, full.Values) == (len(key.children), len(key.values))
        subs = [
            self.reg.ZwEnumerateKey(h, i, nt.KeyBasicInformation).Name for i in range(full.SubKeys)
        ]
        assert subs == [c.name for c in key.sorted_children()]
        vals = []
        for i in range(full.Values):
            v = self.reg.ZwEnumerateValueKey(h, i, nt.KeyValueFullInformation)
            vals.append((v.Name, v.Type, v.Data))
        assert vals == list(key.values.values())
        self._expect(S.STATUS_NO_MORE_ENTRIES, self.reg.ZwEnumerateKey, h, full.SubKeys, 0)
        if key.children:
            longest = max(2 * len(c.name) for c in key.children.values())
            assert full.MaxNameLen >= longest  # a high-water mark

    @rule()
    def toggle_callbacks(self):
        if self.cookie is None:
            self.cookie = self.reg.CmRegisterCallbackEx(policy, "320000")
        else:
            self.reg.CmUnRegisterCallback(self.cookie)
            self.cookie = None

    @rule()
    def flush_and_compare(self):
        self.reg.flush_all()
        self._compare_file()

    def _compare_file(self) -> None:
        if not self.file.exists():
            # Never flushed yet: only possible while nothing stable was written.
            assert not self.root.values and all(c.volatile for c in self.root.children.values())
            return
        with regf.open(self.file) as hive:
            stack = [(self.root, hive.root)]
            while stack:
                m, k = stack.pop()
                stable = [c for c in m.sorted_children() if not c.volatile]
                assert [s.name for s in k.subkeys()] == [c.name for c in stable], m.path
                assert [(v.name, int(v.type), v.raw) for v in k.values()] == list(m.values.values())
                stack.extend(zip(stable, k.subkeys(), strict=True))

    @invariant()
    def handles_match(self):
        assert sorted(self.handles) == self.reg.open_handles()


TestNtStateMachine = NtMachine.TestCase
# Inherits the loaded profile (HYPOTHESIS_PROFILE: dev 50 runs, ci 300).
TestNtStateMachine.settings = settings(stateful_step_count=60)
