"""Properties on random valid task graphs (hypothesis).

* the compiled executor, with and without fast-forward, gives exactly the cycles and the
  timeline of the literal SimPy model (one process per unit with resource requests);
* both engines report the same cycles (the analytical engine evaluates the same max-plus
  recurrence in closed form), and identical action counts, energy and busy cycles;
* where nothing contends (a feed-forward DAG, one task per unit, every task in every
  iteration) the two engines agree exactly: T = max over paths of
  (sum of cycles + latency along it) + (n - 1) * (largest cycles on it).
"""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import analytical, des
from sim.taskgraph import Dep, Phase, Task, TaskGraph

UNITS = ["dram", "pe2d", "pe1d"]


@st.composite
def phases(draw, name="p", max_iterations=120):
    n_tasks = draw(st.integers(1, 5))
    tasks = []
    for k in range(n_tasks):
        every = draw(st.sampled_from([1, 1, 2, 3, 4]))
        deps = []
        for j in range(n_tasks):
            if draw(st.integers(0, 3)) == 0:
                dist = draw(st.integers(0 if j < k else 1, 3))  # distance 0 only backwards: no deadlock
                deps.append(Dep(f"t{j}", dist))
        tasks.append(Task(f"t{k}", draw(st.sampled_from(UNITS)), draw(st.integers(0, 20)), draw(st.integers(0, 10)),
                          deps=tuple(deps), every=every, offset=draw(st.integers(0, every - 1)),
                          actions={("c", f"t{k}"): draw(st.integers(0, 5))}, energy_pj={("c", f"t{k}"): 1.5}))
    return Phase(name, tuple(tasks), draw(st.integers(0, max_iterations)))


@st.composite
def graphs(draw, max_iterations=120):
    phs = tuple(draw(phases(f"p{j}", max_iterations)) for j in range(draw(st.integers(1, 3))))
    return TaskGraph(phases=phs, units={"dram": 1, "pe2d": 16, "pe1d": 4}, clock_hz=1e9)


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_compiled_executor_equals_the_simpy_process_model(g):
    ref = des.run(g, executor="processes", timeline_limit=None)
    full = des.run(g, fast_forward=False, timeline_limit=None)
    fast = des.run(g)
    assert full.cycles == ref.cycles == fast.cycles
    assert sorted(full.timeline) == sorted(ref.timeline)
    assert ref.meta["des"]["busy_cycles_observed"] == full.busy_cycles


@settings(max_examples=100, deadline=None)
@given(graphs(max_iterations=5000))
def test_fast_forward_is_exact_on_long_random_phases(g):
    full, fast = des.run(g, fast_forward=False), des.run(g)
    assert fast.cycles == full.cycles
    assert fast.simulated_steps + fast.extrapolated_steps == full.simulated_steps == g.steps()


@settings(max_examples=200, deadline=None)
@given(graphs(max_iterations=3000))
def test_both_engines_report_the_same_cycles(g):
    """Exact roads of the analytical engine (every phase here): the same cycles; the bound of
    road 4 is never above the simulation."""
    a, d = analytical.run(g), des.run(g)
    if all(analytical.road(ph) < 4 for ph in g.phases):
        assert d.cycles == a.cycles
    else:
        assert d.cycles >= a.cycles
    assert d.actions == a.actions
    assert d.energy_pj_by == a.energy_pj_by
    assert d.busy_cycles == a.busy_cycles


@st.composite
def feed_forward(draw):
    k = draw(st.integers(1, 5))
    tasks = []
    for j in range(k):
        preds = [i for i in range(j) if draw(st.booleans())]
        tasks.append(Task(f"s{j}", f"u{j}", draw(st.integers(1, 30)), draw(st.integers(0, 10)),
                          deps=tuple(Dep(f"s{i}", 0) for i in preds)))
    return tasks, draw(st.integers(1, 60))


def _paths(tasks):
    """Every path (list of tasks) of the DAG, by depth-first enumeration."""
    by = {t.name: t for t in tasks}
    succ = {t.name: [] for t in tasks}
    for t in tasks:
        for d in t.deps:
            succ[d.task].append(t.name)
    out = []

    def walk(path):
        nxt = succ[path[-1].name]
        if not nxt:
            out.append(path)
        for s in nxt:
            walk(path + [by[s]])

    for t in tasks:
        if not t.deps:
            walk([t])
    return out


@settings(max_examples=150, deadline=None)
@given(feed_forward())
def test_without_contention_both_engines_equal_the_pipeline_formula(case):
    tasks, n = case
    g = TaskGraph(phases=(Phase("p", tuple(tasks), n),), units={t.unit: 1 for t in tasks}, clock_hz=1e9)
    expected = max(sum(t.cycles + t.latency for t in p) + (n - 1) * max(t.cycles for t in p) for p in _paths(tasks))
    assert des.run(g).cycles == expected
    assert analytical.run(g).cycles == expected


def test_analytical_bound_is_fast_for_huge_super_periods():
    # A super-period of 8191 * 4096 is too long for matrices: the engine takes the bound (road
    # 4), which examines each unit's first and last iteration only; 2^40 iterations would be
    # hopeless to loop over.
    tasks = (Task("a", "u", 3, every=8191, offset=5), Task("b", "v", 2, every=4096, offset=4095, deps=(Dep("a", 0),)),
             Task("c", "v", 1))
    g = TaskGraph(phases=(Phase("p", tasks, 1 << 40),), units={"u": 1, "v": 1}, clock_hz=1e9)
    n = 1 << 40
    busy_v = 2 * tasks[1].count(n) + n
    # v starts at iteration 0 with c (fill 0); its last task is c of the last iteration (drain 0).
    assert analytical.run(g).cycles == max(busy_v, 3 * tasks[0].count(n))
    assert math.lcm(8191, 4096) == g.phases[0].period
