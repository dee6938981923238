"""The analytical engine (closed-form lower bound) against the event loop and closed forms."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.registry import load_arch
from sim.spgemm import KERNELS, expand, load_mtx, simulate
from sim.spgemm.bound import bound
from sim.spgemm.machine import TaskSet, run

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


# ------------------------------------------------------------- one resource dominates

def test_dram_bound_dynamic_phase_agrees_up_to_nothing(spec):
    # 2000 tokens of 4096 bytes: 2000 * 4096 / 204.8 = 40000 cycles on the channel, after the
    # first token's fetch (40-cycle network round trip + 8-cycle atomic) -- both engines
    n = 2000
    ph = [TaskSet("t", instr=np.zeros(n), dram_bytes=np.full(n, 4096.0))]
    token = spec.net_latency_cycles + spec.atomic_latency_cycles
    assert token == 48
    assert bound(spec, ph).cycles == 40000 + 48 == run(spec, ph).cycles
    assert bound(spec, ph).limiter == {"t": "dram"}


def test_one_pipeline_bound_static_phase_is_exact(spec):
    # 16 threads of core 0's first multi-threaded pipeline, 1000 instructions each: 16 * 1000
    owner = np.arange(16)
    ph = [TaskSet("t", instr=np.full(16, 1000.0), latency=np.full(16, 1000.0), owner=owner)]
    assert bound(spec, ph).cycles == 16000 == run(spec, ph).cycles


def test_latency_chain_and_barrier(spec):
    # one thread, three tasks of 300 cycles; then another phase of one 200-cycle task
    a = TaskSet("a", instr=np.zeros(3), latency=np.full(3, 300.0), owner=np.array([5, 5, 5]))
    b = TaskSet("b", instr=[0.0], latency=[200.0], owner=np.array([7]))
    r = bound(spec, [a, b])
    assert r.cycles == 900 + 200 == run(spec, [a, b]).cycles
    assert r.phase_cycles == {"a": 900, "b": 200} and r.limiter == {"a": "thread", "b": "thread"}


def test_fragmented_table_atomics_spread_over_every_core(spec):
    # 528 tasks each with 800 atomics spread over the 8 cores' atomic units (1 per cycle):
    # core 0's unit serves its 528 * 800 / 8 = 52,800 plus the 528 token fetch-and-adds
    n = spec.threads
    ph = [TaskSet("t", instr=np.zeros(n), atom_all=np.full(n, 800.0))]
    r = bound(spec, ph)
    assert r.cycles == 52800 + 528 and r.limiter == {"t": "atomic_unit"}
    assert run(spec, ph).cycles >= 52800 + 528


def test_single_threaded_pipeline_issues_only_for_its_thread():
    # one core: a 2-thread multi-threaded pipeline and a single-threaded one; 30 tokens of 600
    # instructions and a 1,000-cycle latency. The single-threaded pipeline's only thread spends
    # 48 + 1,000 cycles per task (token fetch, latency) to issue 600 instructions, so in H cycles
    # the two pipelines issue (H - 48) + 600 H / 1048 >= 18,000: H >= 18,048 / (1 + 600/1048)
    spec = load_arch("piuma", {"cores": 1, "mtp": 1, "threads": 2, "stp": 1})
    ph = [TaskSet("t", instr=np.full(30, 600.0), latency=np.full(30, 1000.0))]
    h = 18048 / (1 + 600 / 1048)
    assert h == pytest.approx(11477.13, abs=0.01)
    r = bound(spec, ph)
    assert r.cycles == 11478 and r.limiter == {"t": "pipeline"}
    # the event loop also queues the two threads of the multi-threaded pipeline: within 1%
    assert r.cycles <= run(spec, ph).cycles <= 1.01 * r.cycles


def test_contention_is_what_the_bound_leaves_out(spec):
    # two threads of one core, each one task of 1000 scratchpad accesses and a 1000-cycle
    # latency: alone a task takes 1000 / 6 ports + ... = its latency; together they need
    # 2000 / 6 = 333 port cycles, still under the latency: both engines say 1000.
    ph = [TaskSet("t", instr=np.zeros(2), spad=np.full(2, 1000.0), latency=np.full(2, 1000.0), owner=np.array([0, 1]))]
    assert spec.spad_ports == 6
    assert bound(spec, ph).cycles == 1000 == run(spec, ph).cycles
    # with 12,000 accesses each the ports are the limit: 24,000 / 6 = 4,000 cycles in both
    ph = [TaskSet("t", instr=np.zeros(2), spad=np.full(2, 12000.0), latency=np.full(2, 1000.0), owner=np.array([0, 1]))]
    assert bound(spec, ph).cycles == 4000 == run(spec, ph).cycles


# ------------------------------------------------------------------ random phases

demand = st.floats(min_value=0, max_value=5000, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), nphases=st.integers(1, 3))
def test_bound_never_exceeds_the_event_loop(data, nphases):
    spec = load_arch("piuma", {"cores": 2, "mtp": 1, "threads": 3, "stp": 1})
    phases = []
    for p in range(nphases):
        n = data.draw(st.integers(1, 40))
        cols = {k: np.array(data.draw(st.lists(demand, min_size=n, max_size=n)))
                for k in ("instr", "spad", "atom", "spad_all", "atom_all", "dram_bytes", "net_bytes", "latency")}
        static = data.draw(st.booleans())
        owner = np.array(data.draw(st.lists(st.integers(0, spec.threads - 1), min_size=n, max_size=n))) if static else None
        phases.append(TaskSet(f"p{p}", owner=owner, **cols))
    assert bound(spec, phases).cycles <= run(spec, phases).cycles
