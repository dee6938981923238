"""Both engines on every kernel and shipped matrix: the bound below the event loop, the counts
identical (the closed forms of each engine are in tests/sim/des/test_pool.py and
tests/sim/test_pool_bound.py)."""

from pathlib import Path

import numpy as np
import pytest

from arch.registry import load_arch
from sim.spgemm import KERNELS, expand, load_mtx, simulate

DATA = Path(__file__).resolve().parents[2] / "data" / "matrices"
MATRICES = sorted(p.stem for p in DATA.glob("*.mtx"))
SAME = ("flops", "nnz_z", "hash_probes", "hash_collisions", "atomics", "dram_bytes", "instructions",
        "spad_accesses", "network_bytes", "tasks", "energy_pj", "energy_breakdown")


@pytest.fixture(scope="module")
def spec():
    return load_arch("piuma")


def test_every_shipped_matrix_is_covered():
    # tests/data/matrices/SOURCES.md lists these seven
    assert MATRICES == ["bcsstk13", "cryg2500", "karate", "olm1000", "pushpull", "west0067", "zenios"]


@pytest.mark.parametrize("name", MATRICES)
def test_bound_below_event_loop_with_identical_counts(spec, name):
    A = load_mtx(DATA / f"{name}.mtx")
    e = expand(A, A, keep_product=False)
    for kernel in KERNELS:
        d = simulate(A, A, kernel, spec, expansion=e, keep_product=False, engine="des").record()
        a = simulate(A, A, kernel, spec, expansion=e, keep_product=False, engine="analytical").record()
        assert (a["engine"], d["engine"]) == ("analytical", "des")
        assert 0 < a["cycles"] <= d["cycles"], (name, kernel)
        for key in SAME:
            assert a[key] == d[key], (name, kernel, key)
        # both engines book the same demand, so busy cycles agree and utilizations scale with
        # the cycle ratio; the bound never implies a resource busier than it can be
        for unit, u in a["utilization"].items():
            assert u * a["cycles"] == pytest.approx(d["utilization"][unit] * d["cycles"])
            assert u <= 1 + 1e-9
        assert 0 < a["thread_occupancy"] <= 1 + 1e-9


@pytest.mark.parametrize("kernel", KERNELS)
def test_actions_keys_and_prices(spec, kernel):
    # the six (component, action) keys SpGEMM reports, priced with the spec's per-action pJ
    # (DRAM and network: per 8-byte access, counted in bytes); the multiplies are exactly the
    # product's flops
    A = load_mtx(DATA / "karate.mtx")
    res = simulate(A, A, kernel, spec, keep_product=False)
    rep = res.report
    price = {"pipeline": "instruction", "fpu": "flop", "scratchpad": "spad_access", "atomic_unit": "atomic",
             "dram": "dram_access", "network": "network_access"}
    per = {"dram": 8, "network": 8}
    assert set(rep.actions) == {("pipeline", "instruction"), ("fpu", "mac"), ("scratchpad", "access"),
                                ("atomic_unit", "atomic"), ("dram", "access"), ("network", "access")}
    for (comp, act), count in rep.actions.items():
        assert rep.energy_pj_by[(comp, act)] == pytest.approx(count / per.get(comp, 1) * spec.energy_pj[price[comp]])
    flops = int(np.diff(A.indptr)[A.indices].sum())       # sum over stored a_ik of nnz(B_k)
    assert rep.actions[("fpu", "mac")] == res.counts["flops"] == flops
    assert rep.dram_bytes == round(rep.actions[("dram", "access")])
    assert set(rep.utilization) == {"pipeline", "scratchpad", "atomic_unit", "dram", "network"}
