"""The event loop against closed-form bounds: latency, bandwidth and issue limits."""

import numpy as np
import pytest

from arch.registry import load_arch
from sim.spgemm.machine import TaskSet, run


@pytest.fixture
def spec():
    return load_arch("piuma")


def test_one_task_takes_its_latency(spec):
    r = run(spec, [TaskSet("t", instr=[10.0], latency=[500.0], owner=np.array([0]))])
    assert r.cycles == 500 and r.tasks == 1


def test_dram_bound_phase_takes_bytes_over_bandwidth(spec):
    n, nbytes = 2000, 4096.0
    r = run(spec, [TaskSet("t", instr=np.zeros(n), dram_bytes=np.full(n, nbytes))])
    ideal = n * nbytes / spec.dram_bw_bytes_per_cycle     # 2000 * 4096 / 204.8 = 40000 cycles
    assert ideal == pytest.approx(40000)
    # plus at most the first token's fetch (network + atomic latency) before the channel starts
    assert ideal <= r.cycles <= ideal + spec.net_latency_cycles + spec.atomic_latency_cycles + 1
    assert r.utilization()["dram"] == pytest.approx(ideal / r.cycles)


def test_threads_of_one_pipeline_share_its_issue_slot(spec):
    # the 16 threads of core 0's first multi-threaded pipeline, 1000 instructions each
    owner = np.arange(spec.threads_per_mtp)
    r = run(spec, [TaskSet("t", instr=np.full(owner.size, 1000.0), latency=np.full(owner.size, 1000.0), owner=owner)])
    assert r.cycles == 16 * 1000


def test_barrier_between_phases(spec):
    a = TaskSet("a", instr=[0.0], latency=[300.0], owner=np.array([5]))
    b = TaskSet("b", instr=[0.0], latency=[200.0], owner=np.array([7]))
    assert run(spec, [a, b]).cycles == 500


def test_atomic_unit_bound_on_one_core(spec):
    # 66 threads of core 0 each doing 1000 atomics: 66000 atomics at 1 per cycle
    owner = np.arange(spec.threads_per_core)
    r = run(spec, [TaskSet("t", instr=np.zeros(owner.size), atom=np.full(owner.size, 1000.0), owner=owner)])
    assert r.cycles == 66000


def test_compiled_and_plain_python_loops_agree(spec, monkeypatch):
    # the phase loop is compiled with numba when installed; the same source runs as Python
    from sim.spgemm import machine
    if not hasattr(machine._run_phase, "py_func"):
        pytest.skip("numba not installed: only the plain loop exists")
    rng = np.random.default_rng(7)
    phases = [TaskSet("static", instr=rng.integers(0, 500, 900).astype(float), spad=rng.random(900) * 50,
                      atom_all=rng.random(900) * 20, dram_bytes=rng.random(900) * 4096, latency=rng.random(900) * 900,
                      owner=rng.integers(0, spec.threads, 900)),
              TaskSet("dynamic", instr=rng.integers(0, 500, 1500).astype(float), spad_all=rng.random(1500) * 30,
                      atom=rng.random(1500) * 10, net_bytes=rng.random(1500) * 512, latency=rng.random(1500) * 700)]
    fast = run(spec, phases, timeline=[])
    monkeypatch.setattr(machine, "_run_phase", machine._run_phase.py_func)
    monkeypatch.setattr(machine, "_book", machine._book.py_func)
    plain_timeline = []
    plain = run(spec, phases, timeline=plain_timeline)
    assert fast.cycles == plain.cycles and fast.busy_cycles == plain.busy_cycles
    assert np.array_equal(fast.thread_busy, plain.thread_busy)
