"""The discrete-event engine against closed forms derived here from the timing rule.

Rule (sim/taskgraph.py): a unit issues in program order; an instance starts when its unit is
free and every awaited result is ready; it holds the unit ``cycles`` and its result is ready
``latency`` later; a phase ends when its last result is ready.
"""

import pytest

from arch.errors import MappingError, SimulationError
from sim import des
from sim.taskgraph import Dep, Phase, Task, TaskGraph


def graph(*phases, units=None, clock_hz=1e9, **kw):
    if units is None:
        units = {}
        for ph in phases:
            for t in ph.tasks:
                units.setdefault(t.unit, 1)
    return TaskGraph(phases=phases, units=units, clock_hz=clock_hz, **kw)


def one(tasks, n, **kw):
    return graph(Phase("p", tasks, n), **kw)


@pytest.mark.parametrize("executor", ["compiled", "processes"])
@pytest.mark.parametrize("n", [1, 2, 7, 50])
def test_linear_pipeline_closed_form(executor, n):
    # k stages on k units, feed-forward: the first item flows through every stage
    # (sum of cycles + latency), then the slowest stage paces the other n - 1 items.
    cyc, lat = [3, 9, 4, 6], [1, 0, 5, 2]
    tasks = [Task(f"s{j}", f"u{j}", cyc[j], lat[j], deps=((f"s{j-1}", 0),) if j else ()) for j in range(4)]
    r = des.run(one(tasks, n), executor=executor)
    assert r.cycles == sum(cyc) + sum(lat) + (n - 1) * max(cyc)


@pytest.mark.parametrize("executor", ["compiled", "processes"])
def test_loop_carried_recurrence_exposes_latency(executor):
    # A running max: instance i waits for i-1's result, so each step costs cycles + latency.
    t = Task("rmax", "pe1d", 3, latency=4, deps=(Dep("rmax", 1),))
    assert des.run(one([t], 100), executor=executor).cycles == 100 * (3 + 4)


@pytest.mark.parametrize("slots, load, comp, expected", [
    (1, 10, 30, 100 * (10 + 30)),       # one slot: load and compute serialize
    (2, 10, 30, 10 + 100 * 30),         # double buffering: compute bound, one load exposed
    (2, 30, 10, 100 * 30 + 10),         # double buffering: load bound, one compute exposed
])
def test_buffer_slots(slots, load, comp, expected):
    tasks = [Task("load", "dram", load, deps=(Dep("mm", slots),)), Task("mm", "pe", comp, deps=(Dep("load", 0),))]
    assert des.run(one(tasks, 100)).cycles == expected


def test_tasks_sharing_a_unit_serialize():
    tasks = [Task("a", "dram", 5), Task("b", "dram", 7)]
    assert des.run(one(tasks, 20)).cycles == 20 * 12


def test_in_order_issue_stalls_the_unit():
    # u1 runs a then b; b needs c (on u2) which needs a: per iteration a, c, b strictly in turn.
    tasks = [Task("a", "u1", 10), Task("c", "u2", 10, deps=(Dep("a", 0),)), Task("b", "u1", 10, deps=(Dep("c", 0),))]
    assert des.run(one(tasks, 10)).cycles == 10 * 30


def test_phases_are_separated_by_barriers_that_include_latency():
    p1 = Phase("p1", (Task("a", "u", 5, latency=3),), 4)   # ends at 4*5 + 3
    p2 = Phase("p2", (Task("b", "v", 2),), 3)               # 3*2 after that
    r = des.run(graph(p1, p2), executor="compiled")
    assert r.cycles == 4 * 5 + 3 + 3 * 2
    assert [d["cycles"] for d in r.meta["des"]["phases"]] == [23, 6]


def test_guarded_prologue_and_epilogue():
    # Per group of 4 iterations: load q once (every 4, offset 0), 4 computes that need it,
    # then write once (offset 3) after the 4th compute. q and out share the DRAM unit.
    tasks = [Task("q", "dram", 20, every=4, offset=0),
             Task("mm", "pe", 5, deps=(Dep("q", 0),)),
             Task("out", "dram", 8, every=4, offset=3, deps=(Dep("mm", 0),))]
    # group g: q starts when out of g-1 done; 4 mm after q; out after the 4th mm.
    # One group: 20 + 4*5 + 8 = 48 cycles, strictly serialized by the DRAM unit's order.
    r = des.run(one(tasks, 4 * 10))
    assert r.cycles == 10 * 48
    assert r.simulated_steps + r.extrapolated_steps == 10 * (1 + 4 + 1)


def test_zero_iterations_and_empty_graph():
    assert des.run(one([Task("a", "u", 5)], 0)).cycles == 0
    assert des.run(graph(units={"u": 1})).cycles == 0


def test_empty_phase_and_zero_cycle_tasks():
    # An empty loop body takes no time; zero-cycle tasks take none but their latency.
    zero = Phase("z", (Task("a", "u", 0), Task("b", "u", 0, latency=3, deps=(Dep("a", 0),))), 10**6)
    g = graph(Phase("e", (), 1000), zero, units={"u": 1})
    r = des.run(g)
    assert r.cycles == 3
    assert r.simulated_steps + r.extrapolated_steps == 2 * 10**6


def test_offset_cycles_convention_is_added():
    g = graph(Phase("p", (Task("a", "u", 5),), 3), offset_cycles=-1)
    assert des.run(g).cycles == 14


def test_report_counts_busy_and_utilization():
    tasks = [Task("mm", "pe", 10, active_pe_cycles=40.0), Task("ld", "dram", 30)]
    r = des.run(one(tasks, 5, units={"pe": 8, "dram": 1}))
    assert r.cycles == 150 + 0  # dram bound: 5 * 30; mm runs in parallel
    assert r.busy_cycles == {"pe": 50, "dram": 150}
    assert r.utilization["pe"] == pytest.approx(5 * 40 / (8 * 150))
    assert r.engine == "des"


def test_timeline_lists_unit_task_start_end():
    tasks = [Task("a", "u1", 2), Task("b", "u2", 3, deps=(Dep("a", 0),))]
    r = des.run(one(tasks, 2), fast_forward=False)
    assert sorted(r.timeline, key=lambda e: (e[2], e[0])) == [
        ("u1", "a", 0, 2), ("u1", "a", 2, 4), ("u2", "b", 2, 5), ("u2", "b", 5, 8)]
    assert sorted(des.run(one(tasks, 2), executor="processes").timeline, key=lambda e: (e[2], e[0])) == \
        sorted(r.timeline, key=lambda e: (e[2], e[0]))


# ------------------------------------------------------------------------------ bad input

def test_unit_order_deadlock_is_refused_before_simulation():
    # a is queued before b on u but waits for b in the same iteration: nothing can start.
    tasks = [Task("a", "u", 1, deps=(Dep("b", 0),)), Task("b", "u", 1)]
    with pytest.raises(SimulationError) as e:
        des.run(one(tasks, 10))
    assert str(e.value) == ("phase 'p': deadlock, a unit would wait on a task queued behind it in its own "
                            "program order (same-iteration dependencies and unit order form a cycle among "
                            "['a', 'b']); reorder Phase.tasks or change the binding")


def test_guarded_tasks_that_never_meet_do_not_deadlock():
    # a (even iterations) waits for the latest b at <= i, which ran in the previous (odd) one.
    tasks = [Task("a", "u", 1, every=2, offset=0, deps=(Dep("b", 0),)), Task("b", "u", 2, every=2, offset=1)]
    assert des.run(one(tasks, 10)).cycles == 5 * 3


def test_same_iteration_cycle_is_refused_by_the_graph():
    with pytest.raises(SimulationError, match="deadlock"):
        Phase("p", (Task("a", "u", 1, deps=(Dep("b", 0),)), Task("b", "v", 1, deps=(Dep("a", 0),))), 3)


def test_over_budget_is_refused_before_running():
    g = one([Task("a", "u", 1)], 1000)
    with pytest.raises(SimulationError) as e:
        des.run(g, fast_forward=False, budget_steps=999)
    assert str(e.value) == ("the simulation needs 1000 task steps to simulate every task instance, over the "
                            "budget of 999; use fast_forward=True or the analytical engine (--engine analytical)")
    assert des.run(g, fast_forward=False, budget_steps=1000).cycles == 1000


def test_over_budget_even_with_fast_forward_is_refused_before_running():
    g = one([Task("a", "u", 1, every=10_000), Task("b", "v", 1)], 10**9)
    with pytest.raises(SimulationError) as e:
        des.run(g, budget_steps=5000)
    # a block here is one super-period of 10,000 iterations: 10,000 b and one a
    assert str(e.value).startswith("the simulation needs 20002 task steps even with fast-forward")
    assert str(e.value).endswith("over the budget of 5000; raise budget_steps or use the analytical engine (--engine analytical)")


def test_budget_exhausted_while_searching_says_so():
    # c waits for two recurrences: a (10 cycles per step, but results 5000 cycles late) and
    # b (11 per step). a's late results pace c until b overtakes near iteration 5000: no
    # certificate holds before that (b grows faster than c does), which takes ~15,000 steps.
    tasks = [Task("a", "u", 10, latency=5000), Task("b", "v", 11),
             Task("c", "w", 1, deps=(Dep("a", 0), Dep("b", 0)))]
    g = one(tasks, 10**6)
    with pytest.raises(SimulationError, match=r"needs more than the budget of 2000 task steps .*--engine analytical"):
        des.run(g, budget_steps=2000)
    r = des.run(g, budget_steps=100_000)
    assert r.cycles == 11 * 10**6 + 1


def test_tile_larger_than_its_buffer_is_refused():
    t = Task("load", "dram", 4, holds={"glb": 4096})
    with pytest.raises(MappingError) as e:
        one([t], 3, buffers={"glb": 1024})
    assert str(e.value) == ("phase 'p': task 'load' holds a 4096-byte tile in buffer 'glb' of 1024 bytes: "
                            "the tile is larger than its buffer")


def test_resident_tiles_over_capacity_are_refused_and_peak_is_reported():
    a = Task("a", "dram", 4, holds={"glb": 600})
    b = Task("b", "pe", 4, holds={"glb": 600}, deps=(Dep("a", 0),))
    with pytest.raises(MappingError, match=r"need 1200 bytes resident in buffer 'glb' of 1000 bytes"):
        one([a, b], 3, buffers={"glb": 1000})
    r = des.run(one([a, b], 3, buffers={"glb": 1200}))
    assert r.meta["des"]["buffer_peak_bytes"] == {"glb": 1200}


def test_bad_arguments():
    g = one([Task("a", "u", 1)], 3)
    with pytest.raises(SimulationError, match="'executor' must be 'compiled' or 'processes', not 'x'"):
        des.run(g, executor="x")
    with pytest.raises(SimulationError, match="'budget_steps' must be a positive integer, not 0"):
        des.run(g, budget_steps=0)
