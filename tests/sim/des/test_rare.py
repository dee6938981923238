"""Fast-forward between rare tasks is exact: equal to the full simulation, cycle for cycle.

A rare task (``every >= RARE_EVERY``, a weight panel loaded once per thousands of tiles) makes
the super-period as long as the phase; the engine then fast-forwards the runs of frequent tasks
between two rare instances (``sim/des/fastforward.py``) and reads the rare task's far
dependencies through taps (``sim/des/program.py``). The references are independent of both:
the full simulation without fast-forward, the literal SimPy model (``executor="processes"``,
which keeps its own events per instance) and, for the panel GEMM, a closed form.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import des
from sim.des.fastforward import RARE_EVERY
from sim.taskgraph import Dep, Phase, Task, TaskGraph

UNITS = {"dram": 1, "pe2d": 16, "pe1d": 4}


def panel_gemm(n, every, load_b=700, mac=40, load_a=30, store=10):
    """Tiles of a GEMM whose weight panel (``load.B``) is reloaded every ``every`` tiles into a
    double buffer: it waits for the last tile that read the buffer it overwrites (distance
    ``every``); tiles wait for the newest panel and for their input one stage behind."""
    return TaskGraph(phases=(Phase("gemm", (
        Task("Z", "pe2d", mac, deps=(Dep("load.A", 1), Dep("load.B", 1))),
        Task("load.A", "dram", load_a, deps=(Dep("Z", 1),)),
        Task("load.B", "dram", load_b, every=every, offset=every - 3, deps=(Dep("Z", every),)),
        Task("store.Z", "dram", store, deps=(Dep("Z", 2),)),
    ), n),), units={"dram": 1, "pe2d": 1}, clock_hz=1e9)


def test_panel_gemm_equals_full_simulation_and_is_fast_forwarded():
    e = RARE_EVERY * 3
    for n in (4 * e - 3, 4 * e + 17, e + 5):
        g = panel_gemm(n, e)
        fast, full = des.run(g), des.run(g, fast_forward=False)
        assert fast.cycles == full.cycles
        assert fast.simulated_steps + fast.extrapolated_steps == full.simulated_steps == g.steps()
    g = panel_gemm(4 * e - 3, e)
    fast = des.run(g)
    assert fast.meta["des"]["phases"][0]["regime"]["rare_period"] == 1
    assert fast.simulated_steps < g.steps() // 10


def test_panel_gemm_closed_form():
    # store.Z takes no time. Tile i: load.A(i) on the DRAM channel from 40 i (when Z(i-1) is
    # done) for 30 cycles, Z(i) on the array for 40 cycles once load.A(i-1) is in: the array
    # sets the pace, 40 cycles a tile, the channel idle 10 of them, so Z(i) ends at 40 (i + 1)
    # (Z(0) reads the phase start for its met dependencies). A panel load of B = 700 cycles
    # issued after load.A(i) (its own dependency, Z(i - every), long done) ends at
    # 40 i + 30 + B; Z(i + 1) waits for it and starts at 40 i + 30 + B instead of 40 (i + 1):
    # every later tile slips by B - 10 cycles and stays slipped (the pattern resumes). With
    # n = 3 every tiles the panel is loaded at every - 3, 2 every - 3 and 3 every - 3.
    e, B = RARE_EVERY + 7, 700
    n = 3 * e
    g = panel_gemm(n, e, load_b=B, mac=40, load_a=30, store=0)
    expected = 40 * n + 3 * (B - 10)
    assert des.run(g, fast_forward=False).cycles == expected
    assert des.run(g).cycles == expected


@st.composite
def rare_phases(draw, rare_every=st.integers(RARE_EVERY, RARE_EVERY + 300), frequent_every=(1, 1, 2),
                far=lambda every: [every, every + 1, every - 1, every // 2, 2 * every, 40],
                iterations=lambda every_max: st.integers(0, 5 * RARE_EVERY)):
    """A few frequent tasks (``every`` from ``frequent_every``) and one or two rare ones
    (``rare_every``), with far dependencies of the rare tasks on the frequent ones (distances
    ``far(every)``, the tapped kind) and short ones the other way; ``iterations(largest every)``
    draws the phase's length."""
    n_freq = draw(st.integers(1, 3))
    n_rare = draw(st.integers(1, 2))
    names = [f"f{k}" for k in range(n_freq)] + [f"r{k}" for k in range(n_rare)]
    tasks = []
    for k, name in enumerate(names):
        rare = name.startswith("r")
        every = draw(rare_every) if rare else draw(st.sampled_from(list(frequent_every)))
        deps = []
        for j, other in enumerate(names):
            if j == k and not rare:
                if draw(st.booleans()):
                    deps.append(Dep(other, 1))
                continue
            if draw(st.integers(0, 2)) == 0:
                continue
            if rare and other.startswith("f"):  # far: the buffer it overwrites was last read ...
                dist = draw(st.sampled_from(far(every)))
            else:
                dist = draw(st.integers(0 if j < k else 1, 3))
            deps.append(Dep(other, dist))
        tasks.append(Task(name, draw(st.sampled_from(sorted(UNITS))), draw(st.integers(0, 30)),
                          draw(st.integers(0, 12)), deps=tuple(deps), every=every,
                          offset=draw(st.integers(0, every - 1))))
    return Phase("p", tuple(tasks), draw(iterations(max(t.every for t in tasks))))


@settings(max_examples=60, deadline=None)
@given(rare_phases())
def test_fast_forward_between_rare_tasks_equals_full_simulation(ph):
    g = TaskGraph(phases=(ph,), units=UNITS, clock_hz=1e9)
    fast, full = des.run(g), des.run(g, fast_forward=False)
    assert fast.cycles == full.cycles
    assert fast.simulated_steps + fast.extrapolated_steps == g.steps()


@settings(max_examples=8, deadline=None)
@given(rare_phases())
def test_taps_give_the_cycles_of_the_simpy_model(ph):
    # the literal model waits on per-instance events: no histories, no taps
    ph = Phase(ph.name, ph.tasks, min(ph.iterations, 2 * RARE_EVERY + 50))
    g = TaskGraph(phases=(ph,), units=UNITS, clock_hz=1e9)
    assert des.run(g, fast_forward=False).cycles == des.run(g, executor="processes").cycles


def test_budget_counts_the_runs_between_rare_tasks():
    # 16.8 M tiles, a panel every 4 M: two blocks of whole super-periods would be 25 M task
    # instances, over the default budget of 10 M; between the rare tasks a few thousand are
    # simulated. Cycles as in test_panel_gemm_closed_form, with four panel loads.
    e, B = 1 << 22, 700
    n = 4 * e
    g = panel_gemm(n, e, load_b=B, mac=40, load_a=30, store=0)
    r = des.run(g)
    assert r.cycles == 40 * n + 4 * (B - 10)
    assert r.simulated_steps < 10_000
