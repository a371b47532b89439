"""The number rule (issue 20): every configuration number is finite and in its declared range.

Each shipped configuration (architecture, energy tables, ERT and its mapping, sweep spec,
workload) has *every* numeric value replaced in turn by ``.inf``, ``-.inf``, ``.nan`` and
``1e400`` (YAML parses it as inf): the loader must refuse each with one line naming the file
and the field path. A new numeric field is covered without touching this file.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import scnn_sim
from scnn_sim.errors import ScnnSimError
from scnn_sim.inputs.arch import load_arch
from scnn_sim.inputs.validation import MAX_NUMBER, check_finite
from scnn_sim.pricing.energy import load_energy_table, load_ert_table
from scnn_sim.sweep import load_spec
from scnn_sim.workload.shapes import load_workload

DATA = Path(scnn_sim.__file__).parent / "data"
REPO = Path(scnn_sim.__file__).parent.parent
BAD = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan", "1e400": "1.0e+400"}


def _numeric_paths(data, path=()):
    if isinstance(data, bool):
        return
    if isinstance(data, (int, float)):
        yield path
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from _numeric_paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _numeric_paths(v, (*path, i))


def _set(data, path, value):
    for step in path[:-1]:
        data = data[step]
    data[path[-1]] = value


def _variants(src: Path, limit: int | None = None):
    """(field path, YAML text) with one numeric value replaced by a marker for each path."""
    data = yaml.safe_load(src.read_text())
    paths = list(_numeric_paths(data))[:limit]
    assert paths, src
    for path in paths:
        copy = yaml.safe_load(src.read_text())
        _set(copy, path, "@@BAD@@")
        yield path, yaml.safe_dump(copy, sort_keys=False)


def _loaders(tmp: Path):
    ert, mapping = DATA / "ert" / "example_ERT.yaml", DATA / "ert" / "example_mapping.yaml"
    return {
        "arch": (DATA / "arch" / "scnn.yaml", load_arch, None),
        "energy": (DATA / "energy" / "horowitz45.yaml", load_energy_table, 12),
        "ert": (ert, lambda p: load_ert_table(p, mapping), None),
        "ert-mapping": (mapping, lambda p: load_ert_table(ert, p), None),
        "sweep": (REPO / "workloads" / "sweeps" / "example.yaml", load_spec, None),
        "workload": (REPO / "workloads" / "alexnet.yaml", load_workload, 12),
    }


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("kind", ["arch", "energy", "ert", "ert-mapping", "sweep", "workload"])
def test_every_number_of_every_input_must_be_finite(kind, bad, tmp_path):
    src, load, limit = _loaders(tmp_path)[kind]
    if not src.exists():
        pytest.skip(f"{src} not shipped")
    n = 0
    for path, text in _variants(src, limit):
        f = tmp_path / f"bad{n}{src.suffix}"
        f.write_text(text.replace("'@@BAD@@'", BAD[bad]))
        with pytest.raises(ScnnSimError) as exc:
            load(f)
        msg = str(exc.value)
        assert "\n" not in msg and str(f) in msg, msg
        leaf = str(path[-1])
        assert leaf in msg, (path, msg)
        n += 1
    assert n


def test_message_names_file_field_and_value(tmp_path):
    src = DATA / "energy" / "horowitz45.yaml"
    data = yaml.safe_load(src.read_text())
    data["actions"]["multiply"]["energy_pj"] = math.inf
    f = tmp_path / "e.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ScnnSimError, match=r"e\.yaml:actions\.multiply\.energy_pj: must be a "
                                           r"finite number >= 0, got inf$"):
        load_energy_table(f)


def test_numbers_above_the_declared_range_are_refused(tmp_path):
    src = DATA / "energy" / "horowitz45.yaml"
    data = yaml.safe_load(src.read_text())
    data["actions"]["multiply"]["energy_pj"] = MAX_NUMBER * 10
    f = tmp_path / "e.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(ScnnSimError, match="energy_pj: must be a finite number >= 0, got 1e"):
        load_energy_table(f)


def test_recursive_and_deep_structures_are_refused():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ScnnSimError, match="refers to itself"):
        check_finite({"a": loop}, "f.yaml")
    deep: list = []
    cur = deep
    for _ in range(1000):
        cur.append([])
        cur = cur[0]
    with pytest.raises(ScnnSimError, match="nested deeper than"):
        check_finite(deep, "f.yaml")


def test_shared_aliases_are_walked_once():
    leaf = [1.0] * 10
    data = leaf
    for _ in range(30):   # 10 * 2**30 leaves if walked as a tree
        data = [data, data]
    check_finite(data, "f.yaml")
