"""The stage-folder layout (issue 18): old import paths still resolve, the root stays small."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import scnn_sim

PACKAGE = Path(scnn_sim.__file__).parent


@pytest.mark.parametrize("old", sorted(scnn_sim.MOVED))
def test_old_import_path_is_the_moved_module(old):
    moved = importlib.import_module(scnn_sim.MOVED[old])
    assert importlib.import_module(f"scnn_sim.{old}") is moved


def test_documented_imports_keep_working():
    from scnn_sim.export import from_torch
    from scnn_sim.storage import storage_report

    from scnn_sim.results import memory_references
    from scnn_sim.sparsity import prune
    from scnn_sim.workload import load_workload
    from scnn_sim.workload.export import from_torch as new_from_torch
    from scnn_sim.workload.shapes import load_workload as new_load

    assert from_torch is new_from_torch and load_workload is new_load
    assert callable(memory_references) and callable(prune) and callable(storage_report)


def test_unknown_name_of_a_moved_package_is_an_attribute_error():
    import scnn_sim.workload

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        scnn_sim.workload.nonexistent  # noqa: B018


def test_at_most_ten_modules_at_the_package_root():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 10, modules


def _functions(path: Path):
    import ast

    src = path.read_text()
    lines = src.splitlines()
    for f in ast.walk(ast.parse(src)):
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f, lines


def test_no_module_over_600_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long


def test_no_function_over_80_lines_without_saying_why():
    """Outside the numba kernels, a function over 80 lines carries a comment saying why
    (before its def, or as the first line of its body)."""
    unexplained = []
    for p in PACKAGE.rglob("*.py"):
        for f, lines in _functions(p):
            if f.end_lineno - f.lineno + 1 <= 80:
                continue
            decorators = " ".join(lines[d.lineno - 1] for d in f.decorator_list)
            if "jit" in decorators:
                continue
            before = lines[f.lineno - 2 - len(f.decorator_list)]
            body = "\n".join(lines[f.lineno - 1:f.end_lineno])
            if "# Over 80 lines" not in before and "# Over 80 lines" not in body:
                unexplained.append(f"{p.relative_to(PACKAGE)}:{f.lineno} {f.name}")
    assert not unexplained, unexplained
