"""The discrete-event engine on pool phases: closed-form latency, bandwidth and issue limits,
the trace's worker and resource tracks, the budget, and pool phases between ordinary ones."""

import json

import numpy as np
import pytest

from arch.errors import SimulationError
from arch.registry import load_arch
from sim import analytical
from sim.des import engine as des
from sim.spgemm.lower import pool_phase, task_graph
from sim.taskgraph import Phase, Task, TaskGraph


@pytest.fixture(scope="module")
def spec():
    return load_arch("piuma")


def run(spec, phases, **kw):
    return des.run(task_graph(phases, spec), **kw)


def test_one_task_takes_its_latency(spec):
    r = run(spec, [pool_phase(spec, "t", instr=[10.0], latency=[500.0], owner=[0])])
    assert r.cycles == 500 and r.simulated_steps == 1


def test_dram_bound_phase_takes_bytes_over_bandwidth(spec):
    n, nbytes = 2000, 4096.0
    r = run(spec, [pool_phase(spec, "t", instr=np.zeros(n), dram_bytes=np.full(n, nbytes), latency=0.0)])
    ideal = n * nbytes / spec.dram_bw_bytes_per_cycle     # 2000 * 4096 / 204.8 = 40000 cycles
    assert ideal == pytest.approx(40000)
    # plus the first token's fetch (40-cycle network round trip + 8-cycle atomic)
    assert spec.net_latency_cycles + spec.atomic_latency_cycles == 48
    assert r.cycles == 40000 + 48
    assert r.utilization["dram"] == pytest.approx(ideal / r.cycles)


def test_threads_of_one_pipeline_share_its_issue_slot(spec):
    # the 16 threads of core 0's first multi-threaded pipeline, 1000 instructions each
    owner = np.arange(spec.threads_per_mtp)
    r = run(spec, [pool_phase(spec, "t", instr=np.full(16, 1000.0), latency=np.full(16, 1000.0), owner=owner)])
    assert r.cycles == 16 * 1000


def test_barrier_between_phases(spec):
    a = pool_phase(spec, "a", instr=[0.0], latency=[300.0], owner=[5])
    b = pool_phase(spec, "b", instr=[0.0], latency=[200.0], owner=[7])
    assert run(spec, [a, b]).cycles == 500


def test_atomic_unit_bound_on_one_core(spec):
    # 66 threads of core 0 each doing 1000 atomics: 66000 atomics at 1 per cycle
    owner = np.arange(spec.threads_per_core)
    r = run(spec, [pool_phase(spec, "t", instr=np.zeros(66), atom=np.full(66, 1000.0), latency=0.0, owner=owner)])
    assert r.cycles == 66000


def test_spread_demand_books_every_core(spec):
    # one task spreading 8000 scratchpad accesses over the 8 cores' 6 ports: 1000 / 6 cycles
    # on each core, so the task takes 166.67 cycles, rounded up once at the end
    r = run(spec, [pool_phase(spec, "t", instr=[0.0], spad_all=[8000.0], latency=[0.0], owner=[0])])
    assert r.cycles == 167
    assert r.busy_cycles["scratchpad"] == pytest.approx(8000 / 6)


def test_fractional_time_is_rounded_once_over_consecutive_pool_phases(spec):
    # three phases of 100 bytes on the channel: 100 / 204.8 = 0.488 cycles each, 1.46 in all
    ph = [pool_phase(spec, f"p{k}", instr=[0.0], dram_bytes=[100.0], latency=[0.0], owner=[0]) for k in range(3)]
    assert run(spec, ph).cycles == 2 == int(np.ceil(300 / 204.8))


def test_pool_phase_between_ordinary_phases_starts_on_a_whole_cycle(spec):
    # a 10-cycle task on the pipeline unit, a pool phase of 0.488 cycles, another 10-cycle task:
    # the ordinary phase after the pool phase starts at cycle 11
    g = task_graph([pool_phase(spec, "p", instr=[0.0], dram_bytes=[100.0], latency=[0.0], owner=[0])], spec)
    t = Phase("ordinary", (Task("t", "pipeline", 10),), 1)
    graph = TaskGraph((t, g.phases[0], t), g.units, g.clock_hz, meta=g.meta, pool=g.pool)
    assert des.run(graph).cycles == 21
    assert analytical.run(graph).cycles == 21


def test_budget_counts_pool_tasks(spec):
    ph = [pool_phase(spec, "t", instr=np.zeros(100), latency=np.ones(100))]
    with pytest.raises(SimulationError, match="needs 100 task steps .* over the budget of 99"):
        run(spec, ph, budget_steps=99)
    assert run(spec, ph, budget_steps=100).simulated_steps == 100


def test_processes_executor_refuses_pool_phases(spec):
    ph = [pool_phase(spec, "t", instr=[0.0], latency=[1.0], owner=[0])]
    with pytest.raises(SimulationError, match="^executor 'processes' has no model of pool phases; use 'compiled'$"):
        run(spec, ph, executor="processes")


def test_trace_has_worker_and_resource_tracks(spec, tmp_path):
    # two threads of core 1 (threads 66 and 67 share its first pipeline), each one task of
    # 100 instructions, 12 scratchpad accesses and 204.8 DRAM bytes, then a dynamic phase of
    # one task spreading 16 atomics over every core
    a = pool_phase(spec, "a", instr=[100.0, 100.0], spad=[12.0, 12.0], dram_bytes=[204.8, 204.8],
                   latency=[0.0, 0.0], owner=[66, 67])
    b = pool_phase(spec, "b", instr=[0.0], atom_all=[16.0], latency=[0.0])
    path = tmp_path / "t.json"
    r = run(spec, [a, b], trace=str(path))
    doc = json.loads(path.read_text())
    ev = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev if e["name"] == "process_name"}
    # cores first (pids 1-8), then one process per role
    assert procs == {**{c + 1: f"core {c}" for c in range(8)}, 9: "pipeline", 10: "scratchpad",
                     11: "atomic_unit", 12: "network", 13: "dram"}
    tasks = [e for e in ev if e.get("cat") == "task"]
    assert sorted((e["pid"], e["tid"], e["name"]) for e in tasks) == [(1, 1, "b"), (2, 1, "a"), (2, 2, "a")]
    # the pipeline serves 100 + 100 instructions in turn; scratchpad 2 x 2 cycles on core 1;
    # DRAM 1 cycle each; the token fetch and 2 atomics on each of the 8 atomic units
    book = sorted((e["pid"], e["tid"], e["args"]["start_cycle"], e["args"]["end_cycle"])
                  for e in ev if e.get("cat") == "booking")
    assert [x for x in book if x[0] == 9] == [(9, 7, 0.0, 100.0), (9, 7, 100.0, 200.0)]
    assert [x for x in book if x[0] == 10] == [(10, 2, 0.0, 2.0), (10, 2, 2.0, 4.0)]
    assert [x for x in book if x[0] == 13] == [(13, 1, 0.0, 1.0), (13, 1, 1.0, 2.0)]
    atomics = [x for x in book if x[0] == 11]
    assert atomics[0] == (11, 1, 200.0, 201.0)           # the fetch-and-add on core 0, at the barrier
    assert sorted(x[1] for x in atomics[1:]) == list(range(1, 9))
    assert all(x[3] - x[2] == 2.0 for x in atomics[1:])
    assert r.cycles == 200 + 48 + 2 and not doc["otherData"]["truncated"]


def test_compiled_and_plain_python_loops_agree(spec, monkeypatch):
    # the phase loop is compiled with numba when installed; the same source runs as Python
    from sim.des import pool
    if not hasattr(pool._run_phase, "py_func"):
        pytest.skip("numba not installed: only the plain loop exists")
    rng = np.random.default_rng(7)
    phases = [pool_phase(spec, "static", instr=rng.integers(0, 500, 900).astype(float), spad=rng.random(900) * 50,
                         atom_all=rng.random(900) * 20, dram_bytes=rng.random(900) * 4096,
                         latency=rng.random(900) * 900, owner=rng.integers(0, spec.threads, 900)),
              pool_phase(spec, "dynamic", instr=rng.integers(0, 500, 1500).astype(float), spad_all=rng.random(1500) * 30,
                         atom=rng.random(1500) * 10, net_bytes=rng.random(1500) * 512, latency=rng.random(1500) * 700)]
    fast = run(spec, phases)
    monkeypatch.setattr(pool, "_run_phase", pool._run_phase.py_func)
    monkeypatch.setattr(pool, "_record", pool._record.py_func)
    plain = run(spec, phases)
    assert fast.cycles == plain.cycles
    assert np.array_equal(fast.meta["pool"]["worker_busy_cycles"], plain.meta["pool"]["worker_busy_cycles"])


def test_trace_of_a_mixed_graph_keeps_the_accelerator_at_pid_1(spec, tmp_path):
    # an ordinary 10-cycle task on the pipeline unit, then one pool task: the ordinary task on
    # the accelerator's pipeline track, the pool task on core 0's first thread (pid 2)
    g = task_graph([pool_phase(spec, "p", instr=[5.0], latency=[0.0], owner=[0])], spec)
    graph = TaskGraph((Phase("o", (Task("t", "pipeline", 10),), 1), g.phases[0]), g.units, g.clock_hz,
                      meta=g.meta, pool=g.pool)
    path = tmp_path / "t.json"
    des.run(graph, trace=str(path))
    ev = json.loads(path.read_text())["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev if e["name"] == "process_name"}
    assert procs[1] == "accelerator" and procs[2] == "core 0" and procs[10] == "pipeline" and len(procs) == 1 + 8 + 5
    spans = sorted((e["pid"], e["tid"], e["args"]["start_cycle"], e["args"]["end_cycle"]) for e in ev if e["ph"] == "X")
    assert spans == [(1, 1, 0, 10), (2, 1, 10.0, 15.0), (10, 1, 10.0, 15.0)]


def test_trace_keeps_the_first_tasks_and_bookings_and_says_it_truncated(spec, tmp_path, monkeypatch):
    from sim.des import pool
    monkeypatch.setattr(pool, "TRACE_TASKS", 3)
    # two phases of two tasks, each task one pipeline booking: 4 tasks and 4 bookings ran
    ph = [pool_phase(spec, f"p{k}", instr=[10.0, 10.0], latency=[0.0, 0.0], owner=[0, 1]) for k in range(2)]
    path = tmp_path / "t.json"
    run(spec, ph, trace=str(path))
    doc = json.loads(path.read_text())
    cats = [e["cat"] for e in doc["traceEvents"] if e["ph"] == "X"]
    assert cats.count("task") == 3 and cats.count("booking") == 3 and doc["otherData"]["truncated"]
    run(spec, ph[:1], trace=str(path))
    assert not json.loads(path.read_text())["otherData"]["truncated"]
