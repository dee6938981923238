"""The fast paths of the analytical engine.

The engine keeps the analysis of a loop-body structure (for its bound, road 4) and the cycles
of a phase across phases. These tests hold those paths to independent references:

* the bound of random phases equals a brute force written from the definition in the
  engine's module docstring (every iteration enumerated, longest paths by repeated
  relaxation), also when phases of one structure with different costs share the caches;
* on random graphs of such phases, the discrete-event engine never beats the bound, and both
  engines report the same cycles and totals.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.errors import SimulationError
from sim import analytical, des
from sim.taskgraph import Dep, Phase, Task, TaskGraph

UNITS = ("dram", "pe2d", "pe1d")
UNIT_PES = {"dram": 1, "pe2d": 16, "pe1d": 4}


# ---------------------------------------------------------------- brute-force reference


def _longest_from(nodes, edges, source):
    """Longest path lengths from ``source`` over ``edges`` {(a, b): w} (acyclic), by |V| rounds
    of relaxation; unreachable nodes are absent."""
    dist = {source: 0}
    for _ in range(len(nodes)):
        for (a, b), w in edges.items():
            if a in dist and dist[a] + w > dist.get(b, -1):
                dist[b] = dist[a] + w
    return dist


def _has_cycle(nodes, edges):
    reach = {a: {b for (x, b) in edges if x == a} for a in nodes}
    for _ in range(len(nodes)):
        for a in nodes:
            reach[a] = reach[a].union(*(reach[b] for b in reach[a])) if reach[a] else reach[a]
    return any(a in reach[a] for a in nodes)


def reference_bound(phase) -> int:
    """fill(u) + max(busy(u), sum over iterations of span_i(u)) + drain(u), maximised over units,
    every iteration of the phase enumerated (module docstring of :mod:`sim.analytical`)."""
    tasks, n = phase.tasks, phase.iterations
    running = [[k for k, t in enumerate(tasks) if i % t.every == t.offset] for i in range(n)]
    index = {t.name: k for k, t in enumerate(tasks)}

    def data_edges(live):
        edges = {}
        for k in live:
            for d in tasks[k].deps:
                j = index[d.task]
                if d.distance == 0 and j in live:
                    edges[(j, k)] = tasks[j].cycles + tasks[j].latency
        return edges

    busy, span, first_it, last_it = {}, {}, {}, {}
    cyclic = False
    for i, live in enumerate(running):
        for k in live:
            u = tasks[k].unit
            busy[u] = busy.get(u, 0) + tasks[k].cycles
            first_it.setdefault(u, i)
            last_it[u] = i
        edges = data_edges(live)
        by_unit = {}
        for k in live:
            by_unit.setdefault(tasks[k].unit, []).append(k)
        for ks in by_unit.values():  # program order on each unit
            for a, b in zip(ks, ks[1:]):
                edges[(a, b)] = max(edges.get((a, b), 0), tasks[a].cycles)
        if _has_cycle(live, edges):
            cyclic = True
            continue
        for u, ks in by_unit.items():
            dist = _longest_from(live, edges, ks[0])
            span[u] = span.get(u, 0) + dist[ks[-1]] + tasks[ks[-1]].cycles
    bound = 0
    for u in busy:
        b = busy[u] if cyclic else max(busy[u], span[u])
        live = running[first_it[u]]
        edges = data_edges(live)
        first = next(k for k in live if tasks[k].unit == u)
        # earliest start: longest data chain ending at ``first`` (from any source)
        fill = max(_longest_from(live, edges, s).get(first, 0) for s in live)
        live = running[last_it[u]]
        edges = data_edges(live)
        last = next(k for k in reversed(live) if tasks[k].unit == u)
        # tail: own latency, then the longest chain of (cycles + latency) of its dependents
        onward = {(a_, b_): tasks[b_].cycles + tasks[b_].latency for (a_, b_) in edges}
        drain = tasks[last].latency + max(_longest_from(live, onward, last).values())
        bound = max(bound, fill + b + drain)
    return bound


# ---------------------------------------------------------------- random phases


@st.composite
def structures(draw):
    """(name, unit, deps, every, offset) per task; distance 0 only backwards (no deadlock)."""
    n_tasks = draw(st.integers(2, 6))
    out = []
    for k in range(n_tasks):
        every = draw(st.sampled_from([1, 1, 1, 2, 3, 4]))
        deps = []
        for j in range(n_tasks):
            if j != k and draw(st.integers(0, 2)) == 0:
                deps.append(Dep(f"t{j}", draw(st.integers(0 if j < k else 1, 2))))
        out.append((f"t{k}", draw(st.sampled_from(UNITS)), tuple(deps), every, draw(st.integers(0, every - 1))))
    return out


def costs(n):
    return st.lists(st.tuples(st.integers(0, 30), st.integers(0, 12)), min_size=n, max_size=n)


def build(structure, cost, iterations, key=None):
    tasks = tuple(Task(name, unit, c, latency=lat, deps=deps, every=every, offset=offset)
                  for (name, unit, deps, every, offset), (c, lat) in zip(structure, cost))
    ph = Phase("p", tasks, iterations)  # checked
    return ph if key is None else Phase.trusted("p", tasks, iterations, key)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_bound_equals_brute_force_with_shared_structure(data):
    structure = data.draw(structures())
    n1, n2 = data.draw(st.integers(0, 40)), data.draw(st.integers(0, 40))
    c1, c2 = data.draw(costs(len(structure))), data.draw(costs(len(structure)))
    key = ("test", repr(structure))
    # two phases of one structure with other costs and iteration counts, through the shared
    # caches, and a third built by the checked constructor without a structure key
    for ph in (build(structure, c1, n1, key), build(structure, c2, n2, key), build(structure, c2, n1)):
        assert analytical.phase_bound(ph) == reference_bound(ph)


def test_bound_survives_clearing_the_caches():
    structure = [("a", "pe2d", (), 1, 0), ("b", "pe1d", (Dep("a"),), 1, 0), ("c", "pe2d", (Dep("b"),), 2, 1)]
    ph = build(structure, [(10, 1), (5, 2), (7, 0)], 9)
    expected = reference_bound(ph)
    analytical.clear_caches()
    assert analytical.phase_bound(build(structure, [(10, 1), (5, 2), (7, 0)], 9)) == expected


def test_a_cyclic_iteration_falls_back_to_busy_cycles():
    """A (u1) -> B (u2) -> C (u1) with C listed before A on u1: program order C, A and data
    A -> B -> C close a loop inside the iteration, so no span is taken. By hand: u1 is busy
    2 * (6 + 4) = 20 cycles, its first task C starts after A and B (4 + 1 + 3 = 8), and nothing
    follows A in the last iteration but B and C (1 + 3 + 6 = 10): 8 + 20 + 10 = 38."""
    tasks = (Task("C", "u1", 6, deps=(Dep("B"),)), Task("A", "u1", 4, latency=1),
             Task("B", "u2", 3, deps=(Dep("A"),)))
    ph = Phase("p", tasks, 2)
    assert analytical.phase_bound(ph) == reference_bound(ph) == 38


# ---------------------------------------------------------------- both engines


@st.composite
def graphs(draw):
    """One to three random phases in sequence, each with actions booked per task."""
    phases = []
    for p in range(draw(st.integers(1, 3))):
        structure = draw(structures())
        cost = draw(costs(len(structure)))
        tasks = tuple(Task(name, unit, c, latency=lat, deps=deps, every=every, offset=offset,
                           actions={("pe", "mac"): k + 1}, energy_pj={("pe", "mac"): 0.5 * (k + 1)})
                      for k, ((name, unit, deps, every, offset), (c, lat)) in enumerate(zip(structure, cost)))
        phases.append(Phase(f"p{p}", tasks, draw(st.integers(1, 25))))
    return TaskGraph(tuple(phases), UNIT_PES, clock_hz=1e9)


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_des_never_beats_the_bound_on_random_graphs(g):
    a, d = analytical.run(g), des.run(g)
    assert d.cycles >= sum(analytical.phase_bound(ph) for ph in g.phases)
    assert d.cycles == a.cycles  # small phases: the exact roads
    assert d.actions == a.actions and d.energy_pj_by == a.energy_pj_by and d.busy_cycles == a.busy_cycles


def test_task_checks_and_derive():
    with pytest.raises(SimulationError, match="'cycles' must be a non-negative integer, not 2.5"):
        Task("t", "u", 2.5)
    with pytest.raises(SimulationError, match="'latency' must be a non-negative integer, not -3"):
        Task("t", "u", 1, latency=-3)
    t = Task("t", "u", 4.0, latency=True, actions={("c", "a"): 2}, holds={"glb": 8})
    assert type(t.cycles) is int and t.cycles == 4 and type(t.latency) is int and t.latency == 1
    with pytest.raises(TypeError):
        t.actions[("c", "a")] = 3  # read-only
    d = t.derive((Dep("s", 1),), 3, 2)
    assert d == Task("t", "u", 4, latency=1, deps=(Dep("s", 1),), actions={("c", "a"): 2}, holds={"glb": 8},
                     every=3, offset=2)
    assert t.deps == () and t.every == 1  # the template is unchanged


def test_totals_by_enumeration():
    """Action counts and energy summed instance by instance (every iteration enumerated)."""
    tasks = (Task("a", "pe2d", 3, actions={("pe2d", "mac"): 7}, energy_pj={("pe2d", "mac"): 0.25}),
             Task("b", "dram", 2, actions={("dram", "read"): 64.0}, energy_pj={("dram", "read"): 1.5},
                  every=3, offset=1, active_pe_cycles=1.0))
    g = TaskGraph((Phase("p", tasks, 10), Phase("q", tasks[:1], 1)), UNIT_PES, clock_hz=1e9)
    runs_a = len(range(10)) + 1                            # every iteration of p, then q
    runs_b = len([i for i in range(10) if i % 3 == 1])     # iterations 1, 4, 7
    mac, reads = 7 * runs_a, 64.0 * runs_b
    actions, energy, busy, active = g.totals()
    assert actions == {("pe2d", "mac"): mac, ("dram", "read"): reads}
    assert energy == {("pe2d", "mac"): 0.25 * runs_a, ("dram", "read"): 1.5 * runs_b}
    assert busy == {"dram": 2 * 3, "pe2d": 3 * 11, "pe1d": 0}
    assert active == {"dram": 3.0, "pe2d": 16 * 3 * 11.0, "pe1d": 0.0}
