"""The analytical engine: a closed-form lower bound on the cycles of a lowered task graph.

For each phase and each unit ``u`` the unit must (1) wait for the first of its tasks to become
ready, (2) work through all of its task instances back to back, and (3) after its last task,
the results still have to flow through the tasks that depend on it in the last iteration::

    bound(u) = fill(u) + span(u) + drain(u)
    fill(u)  = earliest start of u's first task in the first iteration u works in, from the
               longest chain of same-iteration dependencies (cycles + latency) before it,
               with no contention
    span(u)  = sum over iterations i of the longest chain from the start of u's first task in
               i to the end of u's last task in i, through same-iteration dependencies
               (cycles + latency) and each unit's program order (cycles). It is at least the
               cycles of u's tasks in i (u's own program order is such a chain), and more when
               u must wait, inside an iteration, for work it handed to another unit (a binding
               that ping-pongs between a 2D and a 1D array). Units issue in order, so u cannot
               begin iteration i + 1 before it has finished iteration i: the spans add up.
    drain(u) = longest chain (latency of the task itself plus cycles + latency of the tasks that
               depend on it) after u's last task of the last iteration u works in

A phase costs ``max_u bound(u)`` and phases add up (each ends in a barrier). Because every unit
issues in program order, no schedule can finish sooner: the discrete-event engine, which adds
contention between units, loop-carried recurrences and stalls, never reports fewer cycles. When
one unit is the bottleneck and nothing else waits on it, the two agree exactly.

Action counts and energy come from the graph itself (:meth:`TaskGraph.totals`), so they are
identical in both engines by construction.
"""

from __future__ import annotations

from sim.report import Report, report_from_totals
from sim.taskgraph import Phase, TaskGraph

_MAX_SPECIAL_RESIDUES = 512


class _Body:
    """Index arrays of one phase's loop body, built once per phase and kept on it.

    ``unit[k]``, ``cycles[k]``, ``latency[k]``, ``every[k]``, ``offset[k]`` describe task ``k``
    (in ``Phase.tasks`` order); ``preds[k]`` lists the tasks ``k`` waits for in the same
    iteration (distance-0 dependencies), ``order`` is a topological order of those edges.
    """

    __slots__ = ("unit", "cycles", "latency", "every", "offset", "preds", "order", "all_every_one")

    def __init__(self, tasks):
        index = {t.name: k for k, t in enumerate(tasks)}
        self.unit = [t.unit for t in tasks]
        self.cycles = [t.cycles for t in tasks]
        self.latency = [t.latency for t in tasks]
        self.every = [t.every for t in tasks]
        self.offset = [t.offset for t in tasks]
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
        self.all_every_one = all(e == 1 for e in self.every)
        # depth-first topological order of the same-iteration edges (acyclic: Phase checks it)
        order, seen = [], [False] * len(tasks)
        for k0 in range(len(tasks)):
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


def _body(phase: Phase) -> _Body:
    b = phase.__dict__.get("_analytical_body")
    if b is None:
        b = phase.__dict__["_analytical_body"] = _Body(phase.tasks)
    return b


def _last_iteration(task, n: int) -> int:
    """Iteration of the last instance of ``task`` in a phase of ``n`` iterations (-1: none)."""
    c = task.count(n)
    return task.offset + (c - 1) * task.every if c else -1


def _iteration_classes(phase: Phase, n: int):
    """(indices of the tasks that run, number of iterations) for each distinct set of running
    tasks in 0..n-1, or None when guarded tasks make too many distinct iterations to list cheaply."""
    b = _body(phase)
    T = len(b.every)
    if b.all_every_one:
        return [(tuple(range(T)), n)]
    period = phase.period
    every, offset = b.every, b.offset
    special = set()
    for e, o in zip(every, offset):
        if e > 1:
            if period // e + len(special) > _MAX_SPECIAL_RESIDUES:
                return None
            special.update(range(o, period, e))
    classes = {}
    generic = n
    for r in special:
        c = (n - 1 - r) // period + 1 if r < n else 0
        if c:
            key = tuple(k for k in range(T) if r % every[k] == offset[k])
            classes[key] = classes.get(key, 0) + c
            generic -= c
    if generic:
        key = tuple(k for k in range(T) if every[k] == 1)
        classes[key] = classes.get(key, 0) + generic
    return list(classes.items())


def _spans(b: _Body, ks) -> dict | None:
    """Per unit, the longest chain from its first to the end of its last task among the tasks
    ``ks`` (indices, one iteration), or None if data and program-order edges form a cycle (the
    DES refuses such a graph as a deadlock)."""
    cycles, latency, unit, preds = b.cycles, b.latency, b.unit, b.preds
    live = set(ks)
    succ = {k: {} for k in ks}  # k -> {j: weight}
    first_on, last_on = {}, {}
    for k in ks:
        u = unit[k]
        j = last_on.get(u)
        if j is None:
            first_on[u] = k
        else:
            s = succ[j]
            w = cycles[j]
            if s.get(k, -1) < w:
                s[k] = w
        last_on[u] = k
        for j in preds[k]:
            if j in live:
                s = succ[j]
                w = cycles[j] + latency[j]
                if s.get(k, -1) < w:
                    s[k] = w
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
        return None
    spans = {}
    for u, f in first_on.items():
        dist = {f: 0}
        for k in order:
            dk = dist.get(k)
            if dk is not None:
                for j, w in succ[k].items():
                    if dist.get(j, -1) < dk + w:
                        dist[j] = dk + w
        last = last_on[u]
        spans[u] = dist[last] + cycles[last]
    return spans


def _chains(b: _Body, running):
    """Earliest start (no contention) and longest tail of the tasks ``running`` in one iteration
    (a list of flags by task index); only same-iteration dependencies on running tasks count."""
    cycles, latency, preds = b.cycles, b.latency, b.preds
    start, tail = {}, {}
    order = [k for k in b.order if running[k]]
    for k in order:
        s = 0
        for p in preds[k]:
            if running[p]:
                v = start[p] + cycles[p] + latency[p]
                if v > s:
                    s = v
        start[k] = s
    succ_best = dict.fromkeys(order, 0)
    for k in reversed(order):
        tk = tail[k] = latency[k] + succ_best[k]
        v = cycles[k] + tk
        for p in preds[k]:
            if running[p] and v > succ_best[p]:
                succ_best[p] = v
    return start, tail


def phase_bound(phase: Phase, busy_of=None) -> int:
    """Lower bound on the cycles of one phase (see the module docstring).

    Only the first and the last iteration in which each unit works are examined (at most two
    per unit), so the cost does not grow with the super-period or the iteration count. The
    result is kept on the (immutable) phase, so a phase shared by several graphs, or run twice,
    is bounded once.
    """
    d = phase.__dict__
    bound = d.get("_analytical_bound")
    if bound is None:
        bound = d["_analytical_bound"] = _phase_bound(phase)
    return bound


def _phase_bound(phase: Phase) -> int:
    n = phase.iterations
    tasks = phase.tasks
    if n == 0 or not tasks:
        return 0
    if len(tasks) == 1:
        # Fast path, same result as below: a lone task has no same-iteration chain, so its
        # fill is 0 and its drain its own latency (systolic folds are such phases).
        t = tasks[0]
        c = t.count(n)
        return t.cycles * c + t.latency if c else 0
    b = _body(phase)
    busy, first_it, last_it = {}, {}, {}
    for t in tasks:
        c = t.count(n)
        if not c:
            continue
        u = t.unit
        if u in busy:
            busy[u] += t.cycles * c
            if t.offset < first_it[u]:
                first_it[u] = t.offset
            li = t.offset + (c - 1) * t.every
            if li > last_it[u]:
                last_it[u] = li
        else:
            busy[u] = t.cycles * c
            first_it[u] = t.offset
            last_it[u] = t.offset + (c - 1) * t.every
    classes = _iteration_classes(phase, n)
    if classes is not None:
        span = {}
        for ks, count in classes:
            spans = _spans(b, ks)
            if spans is None:
                span = None
                break
            for unit, sp in spans.items():
                span[unit] = span.get(unit, 0) + sp * count
        if span is not None:
            for u, bu in busy.items():
                s = span.get(u, 0)
                if s > bu:
                    busy[u] = s
    every, offset, unit = b.every, b.offset, b.unit
    T = len(every)
    chains = {}  # running set -> (start, tail)

    def chains_of(i):
        if b.all_every_one:
            key = ()
        else:
            key = tuple(i % e == o for e, o in zip(every, offset))
        got = chains.get(key)
        if got is None:
            running = [True] * T if not key else key
            got = chains[key] = (running, *_chains(b, running))
        return got

    bound = 0
    for u, bu in busy.items():
        running, start, _ = chains_of(first_it[u])
        fill = next(start[k] for k in range(T) if running[k] and unit[k] == u)
        running, _, tail = chains_of(last_it[u])
        drain = next(tail[k] for k in range(T - 1, -1, -1) if running[k] and unit[k] == u)
        v = fill + bu + drain
        if v > bound:
            bound = v
    return bound


def run(graph: TaskGraph) -> Report:
    """Estimate a lowered task graph: a Report whose cycles are the analytical lower bound."""
    cycles = sum(phase_bound(ph) for ph in graph.phases)
    return report_from_totals(graph, "analytical", cycles, simulated_steps=0, extrapolated_steps=0)
