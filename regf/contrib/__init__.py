"""Adapters that let other tools read hives through regf.

Each module here sits above :mod:`regf.model` (like :mod:`regf.cli`), uses only regf's
public API, and imports its third-party tool at module import, so it is an optional
extra: ``pip install regf[dfwinreg]`` for :mod:`regf.contrib.dfwinreg`.
"""
