"""Fast-forward is exact: extrapolated runs equal fully simulated ones, cycle for cycle.

Each graph below is run twice, with and without fast-forward, at several sizes where the
full simulation is affordable (including sizes that are not a multiple of the super-period),
and the cycles, energy, action counts and step accounting must be identical.
"""

import pytest

from sim import des
from sim.taskgraph import Dep, Phase, Task, TaskGraph

PJ = {("dram", "read"): 64.0}


def double_buffered(n):
    # load -> 2D -> 1D with two slots, a running max on the 1D array (loop-carried).
    return TaskGraph(phases=(Phase("p", (
        Task("load", "dram", 37, latency=120, deps=(Dep("mm", 2),), actions={("dram", "read"): 1024}, energy_pj=PJ),
        Task("mm", "pe2d", 64, latency=5, deps=(Dep("load", 0),), energy_pj={("pe2d", "mac"): 3.5}),
        Task("rmax", "pe1d", 20, latency=9, deps=(Dep("mm", 0), Dep("rmax", 1))),
        Task("store", "dram", 9, deps=(Dep("rmax", 0),)),
    ), n),), units={"dram": 1, "pe2d": 64, "pe1d": 8}, clock_hz=1e9)


def guarded(n, period=48):
    # A prologue load per group of `period` iterations and an epilogue divide + write,
    # epoch-style software pipelining of 2D and 1D work, a port shared by two tasks.
    last = period - 1
    return TaskGraph(phases=(Phase("attn", (
        Task("q", "dram", 300, latency=80, every=period, offset=0, deps=(Dep("out", 1),), energy_pj=PJ),
        Task("k", "dram", 50, latency=80, deps=(Dep("qk", 2),), energy_pj=PJ),
        Task("qk", "pe2d", 70, latency=4, deps=(Dep("q", 0), Dep("k", 0))),
        Task("exp", "pe1d", 45, latency=3, deps=(Dep("qk", 0), Dep("exp", 1))),
        Task("av", "pe2d", 70, latency=4, deps=(Dep("exp", 1),)),
        Task("acc", "port", 5, deps=(Dep("av", 0), Dep("acc", 1))),
        Task("div", "pe1d", 90, every=period, offset=last, deps=(Dep("acc", 0),)),
        Task("out", "dram", 120, every=period, offset=last, deps=(Dep("div", 0),)),
        Task("sync", "port", 3, every=3, offset=1, deps=(Dep("exp", 0),)),
    ), n),), units={"dram": 1, "pe2d": 256, "pe1d": 16, "port": 1}, clock_hz=1e9)


def several_phases(n):
    fill = Phase("fill", (Task("ld", "dram", 11, latency=7), Task("mm", "pe", 5, deps=(Dep("ld", 0),))), 3)
    body = double_buffered(n).phases[0]
    tail = Phase("tail", (Task("st", "dram", 4, every=2, offset=1), Task("red", "pe", 9, deps=(Dep("red", 1),))), n // 3 + 1)
    g = double_buffered(n)
    return TaskGraph(phases=(fill, body, tail, body), units={**g.units, "pe": 4}, clock_hz=1e9)


def run_ahead(n):
    # No back-pressure: the load runs ahead at its own rate (a reducible system).
    return TaskGraph(phases=(Phase("p", (
        Task("load", "dram", 7, latency=40),
        Task("mm", "pe", 9, deps=(Dep("load", 0), Dep("mm", 1))),
        Task("st", "dram2", 3, every=4, offset=2, deps=(Dep("mm", 0),)),
    ), n),), units={"dram": 1, "pe": 4, "dram2": 1}, clock_hz=1e9)


def incommensurate(n):
    # Two coupled recurrences whose critical cycle has several tasks: cyclicity > 1.
    return TaskGraph(phases=(Phase("p", (
        Task("a", "u", 5, latency=2, deps=(Dep("c", 2),)),
        Task("b", "v", 3, latency=7, deps=(Dep("a", 0),)),
        Task("c", "w", 4, latency=1, deps=(Dep("b", 0), Dep("a", 1))),
    ), n),), units={"u": 1, "v": 1, "w": 1}, clock_hz=1e9)


CASES = [double_buffered, guarded, several_phases, run_ahead, incommensurate]


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize("n", [1, 100, 1000, 4099, 20011])
def test_extrapolated_equals_fully_simulated(make, n):
    g = make(n)
    full = des.run(g, fast_forward=False)
    fast = des.run(g, fast_forward=True)
    assert fast.cycles == full.cycles
    assert fast.energy_pj == full.energy_pj
    assert fast.actions == full.actions
    assert full.simulated_steps == g.steps() and full.extrapolated_steps == 0
    assert fast.simulated_steps + fast.extrapolated_steps == g.steps()
    if n >= 4099:
        assert fast.extrapolated_steps > 0.8 * g.steps()


def test_guarded_phase_uses_a_pure_shift_and_run_ahead_per_unit_growth():
    assert des.run(guarded(20011)).meta["des"]["phases"][0]["regime"]["certificate"] == "pure shift"
    assert des.run(run_ahead(20011)).meta["des"]["phases"][0]["regime"]["certificate"] == "per-unit growth"


def test_repeated_phase_is_simulated_once():
    r = des.run(several_phases(1000))
    phases = r.meta["des"]["phases"]
    assert phases[3]["repeat_of"] == "p" and phases[3]["cycles"] == phases[1]["cycles"]


def test_fast_forward_matches_the_process_model():
    g = guarded(500)
    assert des.run(g).cycles == des.run(g, executor="processes").cycles


def test_a_billion_iterations_simulate_a_few_super_periods():
    g = guarded(10**9 + 7)
    r = des.run(g)
    assert r.simulated_steps < 10_000
    assert r.simulated_steps + r.extrapolated_steps == g.steps()
    # Steady state: per group of 48 iterations the 2D array is the bottleneck or the DRAM
    # is; either way the time per iteration is at least each unit's work per iteration.
    per_iter = max(2 * 70, 50 + (300 + 120) / 48, 45 + 90 / 48)
    assert r.cycles >= per_iter * (10**9 + 7)


@pytest.mark.parametrize("make", CASES)
def test_programs_built_on_demand_give_the_same_cycles(make, monkeypatch):
    # Super-periods above EAGER_PERIOD compile residues lazily with a safe history depth.
    import sim.des.fastforward as ff
    import sim.des.program as program

    g = make(3001)
    eager = des.run(g, fast_forward=False).cycles
    monkeypatch.setattr(program, "EAGER_PERIOD", 0)
    monkeypatch.setattr(ff, "EAGER_PERIOD", 0)
    assert des.run(g, fast_forward=False).cycles == eager
    assert des.run(g).cycles == eager


def test_huge_super_period_is_fast_forwarded():
    # every = 70001 > EAGER_PERIOD: one block is one super-period of 70001 iterations.
    tasks = (Task("q", "dram", 500, latency=50, every=70001, offset=0, deps=(Dep("mm", 1),)),
             Task("mm", "pe", 3, deps=(Dep("q", 0), Dep("mm", 1))))
    g = TaskGraph(phases=(Phase("p", tasks, 70001 * 6 + 5),), units={"dram": 1, "pe": 1}, clock_hz=1e9)
    r, full = des.run(g), des.run(g, fast_forward=False)
    assert r.cycles == full.cycles
    # per super-period: q (500) + latency 50 once the previous mm is done, then 70001 mm of
    # 3 cycles each; the last partial super-period has 5 mm.
    assert full.cycles == 6 * (550 + 3 * 70001) + (550 + 3 * 5)
    # q is rare (every >= RARE_EVERY): the runs of mm between two q are fast-forwarded, all
    # six full ones; what is simulated is a few blocks per run and the q iterations.
    regime = r.meta["des"]["phases"][0]["regime"]
    assert (regime["rare_period"], regime["runs_fast_forwarded"]) == (1, 6)
    assert r.simulated_steps < 7 * 4 * 32 * 2
