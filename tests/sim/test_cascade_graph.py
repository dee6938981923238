"""The task graph of a plan (``sim.cascade._graph``) built fast without changing it.

* Booking in place (:func:`sim.cost.book_priced`) gives the sums of the one pricing rule, on
  numbers and on arrays, bit for bit what booking each :func:`~sim.cost.priced` pair gives.
* The lowering's constructors (:meth:`Task.trusted` with a guard, :meth:`Phase.lowered`,
  :meth:`TaskGraph.lowered`) build what the checked constructors build and refuse what a
  mapping can get wrong (task names that repeat, tasks that wait on each other, a clock that
  is not positive) with the constructors' own messages.
* A pipeline's fill and drain phases equal their definition, written out here as a scan of
  every task per phase: the tasks whose work index ``k - s`` (fill phase ``k``) or
  ``n + k - s`` (drain phase ``k``) is in range and passes their guard, in issue order, each
  waiting for the tasks of the phase whose work it reads.
* What is kept across lowerings (a unit's rates, an Einsum's latency, kept tensors and
  action prices, a group, a group's layout in phases, what a group's tiles hold, dependency
  tuples) is keyed on the
  values read: a lowering after others equals a
  fresh one, and a spec whose multiply-add costs twice as much prices it twice as high.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.errors import SimulationError
from arch.registry import load_arch
from mappings.cascade_mapping import shipped
from mappings.workloads import workload
from sim import cascade as sim_cascade
from mappings import cascade_plan
from sim import cascade_phases
from sim.cascade import lower
from sim.cost import book, book_priced, priced
from sim.taskgraph import Dep, Phase, Task, TaskGraph
from studies.families.attention import DEFAULT_ARCH, arrays, attention_cascade

CACHES = (sim_cascade._unit_rates, sim_cascade._einsum_rates, sim_cascade._group_of, cascade_phases._deps,
          cascade_phases._dep, cascade_phases._layout, cascade_plan._held)


# ----------------------------------------------------------------------------- booking
def test_book_priced_sums_count_times_pj_per_key():
    actions, energy = {("glb", "read"): 2}, {("glb", "read"): 5.0}
    book_priced(actions, energy, [("glb", "read", 3, 2.5), ("pe2d", "mac", 0.5, 4.0), ("glb", "read", 1.5, 2.0)])
    assert actions == {("glb", "read"): 2 + 3 + 1.5, ("pe2d", "mac"): 0.5}
    assert energy == {("glb", "read"): 5.0 + 3 * 2.5 + 1.5 * 2.0, ("pe2d", "mac"): 0.5 * 4.0}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["glb", "dram", "pe2d"]), st.sampled_from(["read", "write"]),
                          st.floats(0, 1e12, allow_nan=False), st.floats(0, 1e3, allow_nan=False)), max_size=8))
def test_book_priced_is_booking_each_priced_pair(items):
    actions, energy = {}, {}
    book_priced(actions, energy, items)
    want_actions, want_energy = {}, {}
    for item in items:
        book(want_actions, want_energy, priced(*item))
    assert list(actions.items()) == list(want_actions.items())   # same keys, order and bits
    assert list(energy.items()) == list(want_energy.items())


def test_book_priced_on_arrays_leaves_the_counts_alone():
    counts = np.array([1.0, 2.5, 4.0])
    actions, energy = {}, {}
    book_priced(actions, energy, [("glb", "read", counts, 2.0), ("glb", "read", counts, 0.5)])
    assert np.array_equal(actions[("glb", "read")], counts + counts)
    assert np.array_equal(energy[("glb", "read")], counts * 2.0 + counts * 0.5)
    assert np.array_equal(counts, [1.0, 2.5, 4.0])                 # booked by value, never in place


# ----------------------------------------------------------------------------- constructors
@settings(max_examples=100, deadline=None)
@given(cycles=st.integers(0, 100), latency=st.integers(0, 100), every=st.integers(1, 5), data=st.data())
def test_trusted_task_with_a_guard_is_the_checked_task(cycles, latency, every, data):
    offset = data.draw(st.integers(0, every - 1))
    checked = Task("Z", "pe2d", cycles, latency=latency, actions={("pe2d", "mac"): 3}, every=every, offset=offset)
    trusted = Task.trusted("Z", "pe2d", cycles, latency, checked.actions, checked.energy_pj, None, every, offset)
    assert trusted == checked


def test_lowered_phase_is_the_checked_phase():
    a = Task("A", "u", 2)
    b = Task("B", "u", 3, deps=(Dep("A"), Dep("B", 1)))
    assert Phase.lowered("p", (a, b), 7) == Phase("p", (a, b), 7)


def test_lowered_phase_refuses_repeated_names_and_a_deadlock_as_the_constructor_does():
    twice = (Task("A", "u", 1), Task("A", "u", 2))
    with pytest.raises(SimulationError) as checked:
        Phase("p", twice, 3)
    with pytest.raises(SimulationError) as lowered:
        Phase.lowered("p", twice, 3)
    assert str(lowered.value) == str(checked.value) == "phase 'p': task names repeat: ['A']"
    cycle = (Task("A", "u", 1, deps=(Dep("B"),)), Task("B", "u", 1, deps=(Dep("A"),)))
    with pytest.raises(SimulationError, match="phase 'p': deadlock, tasks wait on each other: A -> B -> A"):
        Phase.lowered("p", cycle, 3)


def test_lowered_graph_is_the_checked_graph_and_refuses_a_clock_that_is_not_positive():
    phase = Phase("p", (Task("A", "u", 2), Task("L", "dram", 1)), 4)
    units, meta = {"dram": 1, "u": 16}, {"einsums": ["A"]}
    assert TaskGraph.lowered((phase,), dict(units), 1e9, meta) == TaskGraph((phase,), units, 1e9, meta=meta)
    with pytest.raises(SimulationError, match="'clock_hz' must be positive, not 0.0"):
        TaskGraph.lowered((phase,), dict(units), 0.0, meta)


# ----------------------------------------------------------------------------- fill and drain
@st.composite
def pipelined_groups(draw):
    """A group's tasks (stage, task, deps in work space): 2-7 tasks at stages 0-3 (the top
    one used), guards, and dependencies on earlier tasks at distances 0-3 (so no deadlock)."""
    n_tasks = draw(st.integers(2, 7))
    stages = [draw(st.integers(0, 3)) for _ in range(n_tasks)]
    stages[draw(st.integers(0, n_tasks - 1))] = max(1, max(stages))
    tasks = []
    for k in range(n_tasks):
        every = draw(st.sampled_from([1, 1, 2, 3]))
        offset = draw(st.integers(0, every - 1))
        # distances within the pipeline's depth, or far back (a block's load every M1 tiles)
        distance = st.integers(0, 3) | st.integers(4, 600)
        deps = [(f"T{j}", draw(distance)) for j in range(k) if draw(st.booleans())]
        if draw(st.booleans()):
            deps.append((f"T{k}", draw(st.integers(1, 3) | st.integers(4, 600))))
        tasks.append((stages[k], Task(f"T{k}", "u", k + 1, every=every, offset=offset), deps))
    return tasks, draw(st.integers(max(stages) + 1, 12))


def _edge_by_definition(tasks, base, first, last, n):
    """The tasks of stages first..last at work ``base - s`` that run (in range, guard), each
    waiting (distance 0) for the tasks of the phase whose work it reads."""
    chosen = [(t, deps, base - s) for s, t, deps in tasks
              if first <= s <= last and 0 <= base - s < n and (base - s) % t.every == t.offset]
    work = {t.name: w for t, _, w in chosen}
    return [(t.name, tuple(a for a, d in deps if a != t.name and work.get(a) == w - d)) for t, deps, w in chosen]


@settings(max_examples=300, deadline=None)
@given(pipelined_groups())
def test_fill_and_drain_phases_are_their_definition(group):
    tasks, n = group
    top = max(s for s, _, _ in tasks)
    gp = SimpleNamespace(einsums=("G",), iterations=n)
    got = {p.name: p for p in cascade_phases.laid_out(gp, (), tasks)}
    for k in range(top):
        for name, base, first, last in ((f"G.prologue{k}", k, 0, k), (f"G.epilogue{k}", n + k, k + 1, top)):
            want = _edge_by_definition(tasks, base, first, last, n)
            phase = got.get(name)
            assert [(t.name, tuple(d.task for d in t.deps)) for t in (phase.tasks if phase else ())] == want
            assert phase is None or (phase.iterations == 1 and all(
                t.every == 1 and t.offset == 0 and all(d.distance == 0 for d in t.deps) for t in phase.tasks))


@settings(max_examples=300, deadline=None)
@given(pipelined_groups(), pipelined_groups())
def test_steady_phase_is_its_definition(group, before):
    # laid out after another group (whose layout may be kept and serve this one), the steady
    # phase runs the tasks with an instance in it (guard offset moved back by their stage's
    # lag behind the top one, below n - top), each waiting for those of them it reads, as
    # many iterations back as its distance plus the stages between them
    cascade_phases.laid_out(SimpleNamespace(einsums=("G",), iterations=before[1]), (), before[0])
    tasks, n = group
    top = max(s for s, _, _ in tasks)
    stage = {t.name: s for s, t, _ in tasks}
    offset = {t.name: (t.offset - top + s) % t.every for s, t, _ in tasks}
    live = {a for a, o in offset.items() if o < n - top}
    want = [(t.name, t.every, offset[t.name],
             tuple((a, max(0, d + s - stage[a])) for a, d in deps if a in live and (a != t.name or d + s - stage[a] > 0)))
            for s, t, deps in tasks if t.name in live]
    got = {p.name: p for p in cascade_phases.laid_out(SimpleNamespace(einsums=("G",), iterations=n), (), tasks)}
    steady = got.get("G.steady")
    if not want:   # no task has an instance there: no phase
        assert steady is None
        return
    assert steady.iterations == n - top
    assert [(t.name, t.every, t.offset, tuple((d.task, d.distance) for d in t.deps)) for t in steady.tasks] == want


@settings(max_examples=300, deadline=None)
@given(pipelined_groups(), st.data())
def test_far_dependencies_laid_out_as_any_such_change_nothing(group, data):
    # one layout serves every distance beyond the pipeline's depth; with lock-step sets (whose
    # waits reach one further) the phases equal those laid out with every distance exact
    tasks, n = group
    names = [t.name for _, t, _ in tasks]
    sync = tuple(tuple(data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)))
                 for _ in range(data.draw(st.integers(0, 3))))
    tasks = [(s, Task(t.name, t.unit, t.cycles, latency=data.draw(st.sampled_from([0, 5])), every=t.every,
                      offset=t.offset), deps) for s, t, deps in tasks]
    gp = SimpleNamespace(einsums=("G",), iterations=n)

    def phases(exact):
        try:
            return [(p.name, p.iterations, p.tasks) for p in cascade_phases.laid_out(gp, sync, tasks, exact=exact)]
        except SimulationError as err:   # tasks that wait on each other: refused alike
            return str(err)

    assert phases(False) == phases(True)


# ----------------------------------------------------------------------------- what is kept
def _fusemax(spec, model, length):
    m = shipped("fusemax")
    return lower(*attention_cascade(m, workload(model, length, 64), arrays(spec)[0].rows), m, spec)


def test_a_warm_graph_equals_a_fresh_one():
    spec = load_arch("fusemax", {})
    _fusemax(spec, "bert", "1K")
    warm = _fusemax(spec, "xlm", "64K")
    assert all(f.cache_info().hits > 0 for f in (sim_cascade._unit_rates, sim_cascade._einsum_rates, cascade_phases._layout))
    for f in CACHES:
        f.cache_clear()
    assert _fusemax(spec, "xlm", "64K") == warm


@pytest.mark.parametrize("name", ["unfused", "flat", "flat-spill", "cascade", "architecture", "fusemax"])
def test_a_layout_kept_across_lengths_equals_a_fresh_one(name):
    # the lengths change the guards of the block loads and how far back they wait (a Q
    # tile loaded every M1 iterations waits M1 + 1 back): one layout serves them all
    spec = load_arch(DEFAULT_ARCH[name.split("-")[0]], {})
    m = shipped(name)

    def graph(length):
        return lower(*attention_cascade(m, workload("t5", length, 64), arrays(spec)[0].rows), m, spec)

    lengths = ("1K", "4K", "16K", "64K", "256K")
    warm = [graph(L) for L in lengths]
    assert cascade_phases._layout.cache_info().hits > 0
    for L, got in zip(lengths, warm):
        for f in CACHES:
            f.cache_clear()
        assert graph(L) == got, L


def test_a_unit_is_kept_by_its_values_not_its_name():
    spec = load_arch("fusemax", {})
    mac_pj = spec.compute["pe2d"].operators["mac"].energy_pj
    dear = load_arch("fusemax", {"compute.pe2d.operators.mac.energy_pj": 2 * mac_pj})
    a, b = _fusemax(spec, "bert", "1K"), _fusemax(dear, "bert", "1K")
    ta = {t.name: t for p in a.phases for t in p.tasks}
    tb = {t.name: t for p in b.phases for t in p.tasks}
    macs = [name for name, t in ta.items() if ("pe2d", "mac") in t.actions]
    assert macs
    for name in macs:
        count = ta[name].actions[("pe2d", "mac")]
        assert tb[name].actions == ta[name].actions
        assert ta[name].energy_pj[("pe2d", "mac")] == count * mac_pj
        assert tb[name].energy_pj[("pe2d", "mac")] == count * (2 * mac_pj)
        others = {k for k in ta[name].energy_pj if k != ("pe2d", "mac")}
        assert all(math.isclose(ta[name].energy_pj[k], tb[name].energy_pj[k]) for k in others)
