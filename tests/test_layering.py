"""The package's layering is a tested contract (issue 14).

Bottom up, each layer imports only the ones below it: ``format`` <- ``cells`` <-
``storage`` <- ``model`` <- ``nt`` <- ``cli``; ``_accel`` and ``errors`` are leaf code
under all of them. The contracts are written once, in pyproject.toml
(``[tool.importlinter]``, also run by ``lint-imports``); this file runs them so that
pytest fails on a violation, and checks that no import cycle exists anywhere in the
package. Skipped when import-linter (and its grimp) is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

importlinter_cli = pytest.importorskip("importlinter.cli")
grimp = pytest.importorskip("grimp")

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["regf.cli", "regf.nt", "regf.model", "regf.storage", "regf.cells", "regf.format"]


def _cycles(graph: object) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)  # type: ignore[attr-defined]
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}  # type: ignore[attr-defined]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges.get(w, []))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_import_linter_contracts_are_kept() -> None:
    """``lint-imports`` over pyproject.toml's contracts: every one kept."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        rc = importlinter_cli.lint_imports(
            config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True
        )
    finally:
        os.chdir(cwd)
    assert rc == importlinter_cli.EXIT_STATUS_SUCCESS


def test_layers_hold_and_the_check_can_fail() -> None:
    """The layers contract on the real graph finds nothing; the same check on that graph
    with one upward import added (format importing model) finds exactly it."""
    graph = grimp.build_graph("regf", include_external_packages=False)
    assert graph.find_illegal_dependencies_for_layers(layers=LAYERS) == set()
    graph.add_import(importer="regf.format.fast", imported="regf.model.keys")
    bad = graph.find_illegal_dependencies_for_layers(layers=LAYERS)
    assert {(d.importer, d.imported) for d in bad} == {("regf.format", "regf.model")}


def test_no_import_cycle_anywhere() -> None:
    """No module of the package imports itself back through others (TYPE_CHECKING
    imports included); a cycle added on purpose is found."""
    graph = grimp.build_graph("regf", include_external_packages=False)
    assert _cycles(graph) == []
    graph.add_import(importer="regf.model.values", imported="regf.model.hive")
    assert any("regf.model.values" in c and "regf.model.hive" in c for c in _cycles(graph))
