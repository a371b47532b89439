"""Pricing reads only counts the engine emits: a renamed counter must fail here, not be priced
as zero (a missing key counts 0 in EnergyTable.breakdown)."""

from __future__ import annotations

import pytest
from conftest import make_tensors

from scnn_sim.engine.baselines import dcnn_counts
from scnn_sim.engine.layer import ACCESS_KEYS, simulate_layer
from scnn_sim.pricing.energy import ACTION_SPEC, builtin_tables, load_energy_table
from scnn_sim.pricing.layer import energy_breakdown, price_layer


@pytest.fixture(scope="module")
def counts(arch):
    lt = make_tensors(C=8, K=16, R=3, S=3, H=8, W=8, padding=1, seed=5)
    return lt, simulate_layer(lt, arch, verify=True, count_merges=True)


def _priced_keys() -> dict[str, list[str]]:
    """action -> the count and bits keys of ``accesses`` it reads."""
    return {a: [k for pair in keys for k in pair if k is not None]
            for a, (_, keys) in ACTION_SPEC.items()}


@pytest.mark.parametrize("action", sorted(ACTION_SPEC))
def test_every_priced_action_reads_keys_the_engine_declares(action):
    keys = _priced_keys()[action]
    missing = [k for k in keys if k not in ACCESS_KEYS]
    assert not missing, f"energy action {action!r} prices {missing}, which the engine never emits"
    if action == "dram_bit":  # priced from every dram_* key
        assert any(k.startswith("dram_") for k in ACCESS_KEYS)
    else:
        assert keys


def test_the_engine_emits_exactly_its_declared_keys(counts, arch):
    lt, c = counts
    assert list(c.accesses) == list(ACCESS_KEYS)
    for name, base in dcnn_counts(lt.layer, arch, c, input_from_dram=True).items():
        assert set(base["accesses"]) <= set(ACCESS_KEYS), name


@pytest.mark.parametrize("table", builtin_tables())
def test_every_action_of_a_shipped_table_is_priced_from_an_emitted_count(counts, table):
    """Each action costs energy in the breakdown when only its own counts are present."""
    _, c = counts
    t = load_energy_table(table)
    for action, (component, _) in ACTION_SPEC.items():
        if not t.energy_pj.get(action):
            continue
        keys = _priced_keys()[action] or [k for k in ACCESS_KEYS if k.startswith("dram_")]
        only = {k: c.accesses[k] for k in keys}
        if not any(only.values()):
            continue
        assert t.breakdown(only)[component] > 0, action


def test_price_layer_is_the_breakdown_with_its_total(counts, arch):
    lt, c = counts
    table = load_energy_table()
    base = dcnn_counts(lt.layer, arch, c, input_from_dram=True)
    prices = price_layer(c, base, table)
    e = table.breakdown(c.accesses)
    assert prices.energy_pj == {**e, "total": sum(e.values())}
    assert prices.baselines_pj["dcnn"] == energy_breakdown(table, base["dcnn"]["accesses"])
    assert prices.temporal_tiling_penalty == 1.0  # resident activations
