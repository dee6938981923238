"""The analytical engine: the cycles of a lowered task graph without simulating it.

In hardware terms every unit (a PE array, a DRAM channel, a buffer port) issues its tile tasks
in program order, so the timing of a phase is a max-plus linear recurrence over its loop body
(:mod:`sim.maxplus`): a matrix per iteration whose entries are the longest paths through data
dependencies, loop-carried dependencies, buffer slots, DRAM latency and each unit's program
order. The engine evaluates each phase by the cheapest exact road it has:

1. a lone task that waits on nothing: ``count * cycles + latency``;
2. a phase of at most ``SCALAR_STEPS`` task instances (``REDUCED_OPS`` when road 3 does not
   take it): every instance in issue order;
3. a phase whose recurrence state has at most ``MAX_STATE`` values (``MAX_PERIOD`` iterations
   of super-period at most): the closed form ``x(n) = A^m (x) 0`` (``A^m`` applied by
   stepping until the state repeats up to a constant shift, or by repeated squaring). A
   larger state (guarded steps reading a whole super-period back) whose super-period has at
   most ``REDUCED_OPS`` task instances: the same closed form on the state positions a
   super-period actually reads, a few dozen values, its long unguarded runs advanced by
   matrix powers (:func:`sim.maxplus_reduced.reduced_cycles`). A longer super-period that is
   long only because of rare tasks (``every >= 1024``: a weight panel reloaded once per
   262,144 tiles): the runs of the whole phase listed window by window, each advanced by the
   same matrix powers, whatever the super-period (:func:`sim.maxplus_rare.rare_cycles`).

On these three roads the cycles equal the discrete-event engine's exactly (fill, steady-state
period and drain): the period is the maximum cycle mean of the recurrence
(:func:`sim.maxplus.period`), so a mapping that starves its array through DRAM latency and
too few buffer slots costs here what it costs in simulation.

4. Otherwise (super-periods of more than ``REDUCED_OPS`` task instances not made long by
   rare tasks alone; none in the FuseMax study) the engine returns a lower bound, written out
   below. For each unit ``u``::

    bound(u) = fill(u) + span(u) + drain(u)
    fill(u)  = earliest start of u's first task in the first iteration u works in, from the
               longest chain of same-iteration dependencies (cycles + latency) before it,
               with no contention
    span(u)  = sum over iterations i of the longest chain from the start of u's first task in
               i to the end of u's last task in i, through same-iteration dependencies
               (cycles + latency) and each unit's program order (cycles). It is at least the
               cycles of u's tasks in i, and more when u must wait, inside an iteration, for
               work it handed to another unit. Units issue in order: the spans add up.
    drain(u) = longest chain (latency of the task itself plus cycles + latency of the tasks that
               depend on it) after u's last task of the last iteration u works in

   and the phase costs ``max_u bound(u)``; the discrete-event engine never reports fewer.

Phases add up (each ends in a barrier). Action counts and energy come from the graph itself
(:meth:`TaskGraph.totals`), so they are identical in both engines by construction.

Speed: a sweep meets the same phases (same tasks, costs and iteration count) over and over; the
cycles of a phase are kept per :meth:`Phase.timing_key` (everything its timing depends on) and
the analysis of a loop-body structure for the bound per its tasks' names, units, guards and
dependencies; :func:`clear_caches` forgets them. Nothing kept changes a result.
"""

from __future__ import annotations

import math

from sim import maxplus, maxplus_rare, maxplus_reduced, pool_bound
from sim.pool import PoolPhase
from sim.report import Report, report_from_totals
from sim.taskgraph import Phase, TaskGraph

#: Phases of at most this many task instances are stepped through instance by instance.
SCALAR_STEPS = 512
#: Largest recurrence state (values) evaluated by matrices; larger ones get the bound.
MAX_STATE = 48
#: Largest super-period (iterations) evaluated by matrices.
MAX_PERIOD = 64
#: Largest super-period (task instances, ``period * tasks``) evaluated on the read positions
#: alone (:func:`sim.maxplus_reduced.reduced_cycles`) when the whole state is too large for
#: matrices; its cost grows as ``O(period * tasks)`` to list the runs (the FuseMax pipelines:
#: 61,440 in 0.07 s; +Architecture's lock-step sets at 1M tokens, 73,728 in 0.07 s).
REDUCED_OPS = 1 << 17
_MAX_SPECIAL_RESIDUES = 512
_MAX_PLANS = 4096   # structures kept (a sweep of one lowering has a few dozen)
_PLANS: dict = {}
_MAX_KEPT = 16384   # phases whose cycles are kept; a few MB at most
_KEPT: dict = {}


class _Plan:
    """What the bound of a phase needs from its structure alone (no cycles, no latencies).

    Built once per distinct loop-body structure (task names, units, guards, dependencies) and
    shared by every phase of that structure: a sweep lowers the same pipeline fills and drains
    with different tile costs over and over. ``preds[k]`` lists the tasks ``k`` waits for in
    the same iteration; ``order`` is a topological order of those edges. Per iteration class
    (set of running tasks) it keeps, per unit, the edges of the longest-chain computation of
    the unit's span; per running set, the chain order and each unit's first and last task.
    """

    __slots__ = ("T", "unit", "every", "offset", "preds", "order", "all_every_one",
                 "residues", "generic", "spans", "chains")

    def __init__(self, tasks):
        index = {t.name: k for k, t in enumerate(tasks)}
        self.T = T = len(tasks)
        self.unit = [t.unit for t in tasks]
        self.every = every = [t.every for t in tasks]
        self.offset = offset = [t.offset for t in tasks]
        preds = []
        for t in tasks:
            ps = []
            for d in t.deps:
                if d.distance == 0:
                    j = index[d.task]
                    if j not in ps:
                        ps.append(j)
            preds.append(ps)
        self.preds = preds
        self.all_every_one = all(e == 1 for e in every)
        # depth-first topological order of the same-iteration edges (acyclic: Phase checks it)
        order, seen = [], [False] * T
        for k0 in range(T):
            if seen[k0]:
                continue
            seen[k0] = True
            stack = [(k0, iter(preds[k0]))]
            while stack:
                k, it = stack[-1]
                for p in it:
                    if not seen[p]:
                        seen[p] = True
                        stack.append((p, iter(preds[p])))
                        break
                else:
                    stack.pop()
                    order.append(k)
        self.order = order
        # iteration classes: the residues modulo the period where a guarded task runs
        self.residues, self.generic = [], tuple(k for k in range(T) if every[k] == 1)
        if not self.all_every_one:
            period = math.lcm(*every)
            special = set()
            for e, o in zip(every, offset):
                if e > 1:
                    if period // e + len(special) > _MAX_SPECIAL_RESIDUES:
                        self.residues = None
                        break
                    special.update(range(o, period, e))
            if self.residues is not None:
                self.residues = [(r, period, tuple(k for k in range(T) if r % every[k] == offset[k]))
                                 for r in special]
        self.spans, self.chains = {}, {}

    def classes(self, n: int):
        """(running task indices, iterations) per distinct running set in 0..n-1, or None when
        guarded tasks make too many distinct iterations to list cheaply."""
        if self.all_every_one:
            return ((self.generic, n),)
        if self.residues is None:
            return None
        classes = {}
        generic = n
        for r, period, key in self.residues:
            c = (n - 1 - r) // period + 1 if r < n else 0
            if c:
                classes[key] = classes.get(key, 0) + c
                generic -= c
        if generic:
            classes[self.generic] = classes.get(self.generic, 0) + generic
        return classes.items()

    def span_edges(self, ks):
        """Per unit among the tasks ``ks`` (one iteration): (first task, last task, edges) with
        the edges (j, k, data?) reachable from the first task in a topological order of data
        and program-order edges; None if those edges form a cycle (the DES refuses such a
        graph as a deadlock)."""
        got = self.spans.get(ks, False)
        if got is not False:
            return got
        unit, preds = self.unit, self.preds
        live = set(ks)
        succ = {k: {} for k in ks}  # k -> {j: data edge?}
        first_on, last_on = {}, {}
        for k in ks:
            u = unit[k]
            j = last_on.get(u)
            if j is None:
                first_on[u] = k
            else:
                succ[j].setdefault(k, False)
            last_on[u] = k
            for j in preds[k]:
                if j in live:
                    succ[j][k] = True
        indeg = dict.fromkeys(ks, 0)
        for s in succ.values():
            for k in s:
                indeg[k] += 1
        order = [k for k in ks if not indeg[k]]
        for k in order:
            for j in succ[k]:
                indeg[j] -= 1
                if not indeg[j]:
                    order.append(j)
        if len(order) != len(ks):
            got = None
        else:
            got = []
            for u, f in first_on.items():
                reached, edges = {f}, []
                for j in order:
                    if j in reached:
                        for k, data in succ[j].items():
                            edges.append((j, k, data))
                            reached.add(k)
                got.append((u, f, last_on[u], tuple(edges)))
        self.spans[ks] = got
        return got

    def chain_plan(self, running):
        """For the running set ``running`` (flags by task index): its tasks in topological
        order with their running predecessors, and per unit its first and last running task."""
        got = self.chains.get(running)
        if got is None:
            preds, unit = self.preds, self.unit
            order = tuple((k, tuple(p for p in preds[k] if running[p])) for k in self.order if running[k])
            first, last = {}, {}
            for k in range(self.T):
                if running[k]:
                    first.setdefault(unit[k], k)
                    last[unit[k]] = k
            got = self.chains[running] = (order, first, last)
        return got


def _plan(phase: Phase) -> _Plan:
    key = tuple([(t.name, t.unit, t.every, t.offset, t.deps) for t in phase.tasks])
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = _Plan(phase.tasks)
    return plan


def _chains(plan: _Plan, running, cycles, latency):
    """Earliest start (no contention) and longest tail of the running tasks of one iteration
    (lists by task index); only same-iteration dependencies on running tasks count."""
    order, first, last = plan.chain_plan(running)
    T = plan.T
    start, tail, best = [0] * T, [0] * T, [0] * T
    for k, ps in order:
        s = 0
        for p in ps:
            v = start[p] + cycles[p] + latency[p]
            if v > s:
                s = v
        start[k] = s
    for k, ps in reversed(order):
        tk = tail[k] = latency[k] + best[k]
        v = cycles[k] + tk
        for p in ps:
            if v > best[p]:
                best[p] = v
    return start, tail, first, last


def phase_cycles(phase: Phase) -> int:
    """Cycles of one phase, from its start to the last result of its last iteration.

    Exact (equal to the discrete-event engine's) on the roads 1-3 of the module docstring, a
    lower bound on road 4. Kept per :meth:`Phase.timing_key` for later phases with the same
    timing.
    """
    key = phase.timing_key()
    got = _KEPT.get(key)
    if got is None:
        if len(_KEPT) >= _MAX_KEPT:
            _KEPT.clear()
        got = _KEPT[key] = _phase_cycles(phase)
    return got


def road(phase: Phase) -> int:
    """Which road of the module docstring evaluates ``phase``: 1-3 exactly, 4 by the bound."""
    return _road(phase)[0]


def _road(phase: Phase):
    """``(road, plan)``: ``plan`` is :func:`sim.maxplus_rare.rare_program`'s answer when road 3
    runs between rare tasks, else None."""
    if not phase.tasks or phase.iterations == 0 or (len(phase.tasks) == 1 and not phase.tasks[0].deps):
        return 1, None
    if phase.steps() <= SCALAR_STEPS:
        return 2, None
    if _dense(phase) or phase.period * len(phase.tasks) <= REDUCED_OPS:
        return 3, None
    plan = maxplus_rare.rare_program(phase)
    if plan is not None:
        return 3, plan
    if phase.steps() <= REDUCED_OPS:   # no closed form applies, yet few enough to step through
        return 2, None
    return 4, None


def _dense(phase: Phase) -> bool:
    """Whether road 3 takes the whole state (else only the positions a super-period reads)."""
    return phase.period <= MAX_PERIOD and maxplus.state_size_estimate(phase) <= MAX_STATE


def _phase_cycles(phase: Phase) -> int:
    way, plan = _road(phase)
    if way == 1:  # nothing, or a lone task running back to back
        if not phase.tasks:
            return 0
        t = phase.tasks[0]
        c = t.count(phase.iterations)
        return t.cycles * c + t.latency if c else 0
    if way == 2:
        return maxplus.scalar_cycles(phase)
    if plan is not None:
        return maxplus_rare.rare_cycles(phase, plan)
    if way == 3:
        return maxplus.matrix_cycles(phase) if _dense(phase) else maxplus_reduced.reduced_cycles(phase)
    return phase_bound(phase)


def phase_bound(phase: Phase) -> int:
    """The lower bound of road 4 (module docstring) on the cycles of ``phase``: what the engine
    returns for phases too large for its exact roads. Never above the discrete-event engine's
    cycles."""
    n, tasks = phase.iterations, phase.tasks
    if n == 0 or not tasks:
        return 0
    plan = _plan(phase)
    cycles = tuple([t.cycles for t in tasks])
    latency = tuple([t.latency for t in tasks])
    return _body_bound(plan, tasks, n, cycles, latency)


def serial_cycles(phase: Phase) -> int:
    """An upper bound on the cycles of ``phase`` (a :class:`Phase`) on either engine: every task
    instance one after another, each followed by its latency. Whatever the schedule, the last
    result ends a chain of distinct instances, each of which waited at most for the cycles and
    latency of the one before; so no engine's cycles exceed it, nor does :func:`phase_bound`."""
    n = phase.iterations
    return sum([t.count(n) * (t.cycles + t.latency) for t in phase.tasks])


def _body_bound(plan: _Plan, tasks, n: int, cycles, latency) -> int:
    if plan.all_every_one:  # every task in every iteration: first 0, last n - 1 for all
        busy = {}
        for u, c in zip(plan.unit, cycles):
            busy[u] = busy.get(u, 0) + c
        for u in busy:
            busy[u] *= n   # integers: n * sum(cycles) == sum(n * cycles)
        first_it = last_it = None
    else:
        busy, first_it, last_it = {}, {}, {}
        for t in tasks:
            c = t.count(n)
            if not c:
                continue
            u = t.unit
            li = t.offset + (c - 1) * t.every
            if u in busy:
                busy[u] += t.cycles * c
                if t.offset < first_it[u]:
                    first_it[u] = t.offset
                if li > last_it[u]:
                    last_it[u] = li
            else:
                busy[u] = t.cycles * c
                first_it[u] = t.offset
                last_it[u] = li
    classes = plan.classes(n)
    if classes is not None:
        # an edge j -> k weighs cycles[j], plus latency[j] when it carries data
        with_latency = [c + lat for c, lat in zip(cycles, latency)]
        span = {}
        T = plan.T
        for ks, count in classes:
            units = plan.span_edges(ks)
            if units is None:
                span = None
                break
            for u, f, last, edges in units:
                dist = [-1] * T
                dist[f] = 0
                for j, k, data in edges:
                    v = dist[j] + (with_latency[j] if data else cycles[j])
                    if v > dist[k]:
                        dist[k] = v
                span[u] = span.get(u, 0) + (dist[last] + cycles[last]) * count
        if span is not None:
            for u, bu in busy.items():
                s = span.get(u, 0)
                if s > bu:
                    busy[u] = s
    bound = 0
    if first_it is None:
        start, tail, first, last = _chains(plan, (True,) * plan.T, cycles, latency)
        for u, bu in busy.items():
            v = start[first[u]] + bu + tail[last[u]]
            if v > bound:
                bound = v
        return bound
    every, offset, memo = plan.every, plan.offset, {}

    def chains_of(i):
        key = tuple([i % e == o for e, o in zip(every, offset)])
        got = memo.get(key)
        if got is None:
            got = memo[key] = _chains(plan, key, cycles, latency)
        return got

    for u, bu in busy.items():
        start, _, first, _ = chains_of(first_it[u])
        _, tail, _, last = chains_of(last_it[u])
        v = start[first[u]] + bu + tail[last[u]]
        if v > bound:
            bound = v
    return bound


def clear_caches(structures: bool = True) -> None:
    """Forget the phase cycles kept across calls and, with ``structures``, the loop-body
    structures of the bound (for timings: a new design point of a sweep meets known structures
    with new costs)."""
    _KEPT.clear()
    if structures:
        _PLANS.clear()


def run(graph: TaskGraph) -> Report:
    """Cycles of a lowered task graph without simulating it: a Report (``engine="analytical"``).

    Pool phases take the closed-form bound of :mod:`sim.pool_bound` (``meta["pool"]``)."""
    pool_cycles, pool = pool_bound.bound(graph)
    cycles = pool_cycles + sum(phase_cycles(ph) for ph in graph.phases if not isinstance(ph, PoolPhase))
    rep = report_from_totals(graph, "analytical", cycles, simulated_steps=0, extrapolated_steps=0)
    if graph.pool is not None:
        rep.meta["pool"] = pool
    return rep
