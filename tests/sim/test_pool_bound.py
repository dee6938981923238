"""The analytical engine on pool phases: closed forms, agreement with the event loop when one
resource dominates, and never above it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.registry import load_arch
from sim import analytical
from sim.des import engine as des
from sim.spgemm.lower import pool_phase, task_graph


@pytest.fixture(scope="module")
def spec():
    return load_arch("piuma")


def both(spec, phases):
    """(analytical Report, discrete-event Report) of the same pool phases."""
    g = task_graph(phases, spec)
    return analytical.run(g), des.run(g)


def test_dram_bound_dynamic_phase_agrees_up_to_nothing(spec):
    # 2000 tokens of 4096 bytes: 2000 * 4096 / 204.8 = 40000 cycles on the channel, after the
    # first token's fetch (40-cycle network round trip + 8-cycle atomic) -- both engines
    n = 2000
    a, d = both(spec, [pool_phase(spec, "t", instr=np.zeros(n), dram_bytes=np.full(n, 4096.0), latency=0.0)])
    assert spec.net_latency_cycles + spec.atomic_latency_cycles == 48
    assert a.cycles == 40000 + 48 == d.cycles
    assert a.meta["pool"]["limiter"] == {"t": "dram"}


def test_one_pipeline_bound_static_phase_is_exact(spec):
    # 16 threads of core 0's first multi-threaded pipeline, 1000 instructions each: 16 * 1000
    a, d = both(spec, [pool_phase(spec, "t", instr=np.full(16, 1000.0), latency=np.full(16, 1000.0),
                                  owner=np.arange(16))])
    assert a.cycles == 16000 == d.cycles


def test_latency_chain_and_barrier(spec):
    # one thread, three tasks of 300 cycles; then another phase of one 200-cycle task
    ph = [pool_phase(spec, "a", instr=np.zeros(3), latency=np.full(3, 300.0), owner=[5, 5, 5]),
          pool_phase(spec, "b", instr=[0.0], latency=[200.0], owner=[7])]
    a, d = both(spec, ph)
    assert a.cycles == 900 + 200 == d.cycles
    pool = a.meta["pool"]
    assert pool["group_cycles"] == {"a": 900, "b": 200} and pool["limiter"] == {"a": "worker", "b": "worker"}


def test_groups_add_up_their_phases(spec):
    # two phases of one group (waves of one kernel step): 300 + 200 cycles under one name
    ph = [pool_phase(spec, "w0", instr=[0.0], latency=[300.0], owner=[1], group="waves"),
          pool_phase(spec, "w1", instr=[0.0], latency=[200.0], owner=[1], group="waves")]
    a, d = both(spec, ph)
    assert a.meta["pool"]["group_cycles"] == {"waves": 500} == d.meta["pool"]["group_cycles"]


def test_fragmented_table_atomics_spread_over_every_core(spec):
    # 528 tasks each with 800 atomics spread over the 8 cores' atomic units (1 per cycle):
    # core 0's unit serves its 528 * 800 / 8 = 52,800 plus the 528 token fetch-and-adds
    n = spec.threads
    a, d = both(spec, [pool_phase(spec, "t", instr=np.zeros(n), atom_all=np.full(n, 800.0), latency=0.0)])
    assert a.cycles == 52800 + 528 and a.meta["pool"]["limiter"] == {"t": "atomic_unit"}
    assert d.cycles >= 52800 + 528


def test_single_threaded_pipeline_issues_only_for_its_thread():
    # one core: a 2-thread multi-threaded pipeline and a single-threaded one; 30 tokens of 600
    # instructions and a 1,000-cycle latency. The single-threaded pipeline's only thread spends
    # 48 + 1,000 cycles per task (token fetch, latency) to issue 600 instructions, so in H cycles
    # the two pipelines issue (H - 48) + 600 H / 1048 >= 18,000: H >= 18,048 / (1 + 600/1048)
    spec = load_arch("piuma", {"cores": 1, "mtp": 1, "threads": 2, "stp": 1})
    h = 18048 / (1 + 600 / 1048)
    assert h == pytest.approx(11477.13, abs=0.01)
    a, d = both(spec, [pool_phase(spec, "t", instr=np.full(30, 600.0), latency=np.full(30, 1000.0))])
    assert a.cycles == 11478 and a.meta["pool"]["limiter"] == {"t": "pipeline"}
    # the event loop also queues the two threads of the multi-threaded pipeline: within 1%
    assert a.cycles <= d.cycles <= 1.01 * a.cycles


def test_contention_is_what_the_bound_leaves_out(spec):
    # two threads of one core, each one task of 1000 scratchpad accesses and a 1000-cycle
    # latency: alone a task takes 1000 / 6 ports + ... = its latency; together they need
    # 2000 / 6 = 333 port cycles, still under the latency: both engines say 1000.
    assert spec.spad_ports == 6
    a, d = both(spec, [pool_phase(spec, "t", instr=np.zeros(2), spad=np.full(2, 1000.0), latency=np.full(2, 1000.0),
                                  owner=[0, 1])])
    assert a.cycles == 1000 == d.cycles
    # with 12,000 accesses each the ports are the limit: 24,000 / 6 = 4,000 cycles in both
    a, d = both(spec, [pool_phase(spec, "t", instr=np.zeros(2), spad=np.full(2, 12000.0),
                                  latency=np.full(2, 1000.0), owner=[0, 1])])
    assert a.cycles == 4000 == d.cycles


def test_counts_and_busy_cycles_are_the_graphs(spec):
    # 10 tokens of 3 atomics each: 30 task atomics + 10 fetch-and-adds, 16 network bytes per
    # token; busy atomic-unit cycles are those 40 operations at one per cycle in both engines
    a, d = both(spec, [pool_phase(spec, "t", instr=np.zeros(10), atom=np.full(10, 3.0), latency=np.ones(10))])
    for r in (a, d):
        assert r.actions[("atomic_unit", "atomic")] == 40 and r.actions[("network", "access")] == 10 * 16
        assert r.busy_cycles["atomic_unit"] == 40
        assert r.energy_pj_by[("atomic_unit", "atomic")] == 40 * spec.energy_pj["atomic"]


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
        phases.append(pool_phase(spec, f"p{p}", owner=owner, **cols))
    a, d = both(spec, phases)
    assert a.cycles <= d.cycles
