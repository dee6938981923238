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


def _runs(task, i: int) -> bool:
    return i % task.every == task.offset


def _chains(phase: Phase, i: int):
    """Earliest start (no contention) and longest tail of every task running in iteration ``i``.

    Only same-iteration (distance 0) dependencies on tasks that also run in ``i`` count.
    """
    tasks = [t for t in phase.tasks if _runs(t, i)]
    live = {t.name for t in tasks}
    preds = {t.name: [d.task for d in t.deps if d.distance == 0 and d.task in live] for t in tasks}
    by_name = {t.name: t for t in tasks}
    start = {}
    for t in _topological(tasks, preds):
        start[t.name] = max((start[p] + by_name[p].cycles + by_name[p].latency for p in preds[t.name]), default=0)
    succs = {t.name: [] for t in tasks}
    for t in tasks:
        for p in preds[t.name]:
            succs[p].append(t.name)
    tail = {}
    for t in reversed(_topological(tasks, preds)):
        tail[t.name] = t.latency + max((by_name[s].cycles + tail[s] for s in succs[t.name]), default=0)
    return tasks, start, tail


def _topological(tasks, preds):
    order, seen = [], set()

    def visit(name, by):
        if name in seen:
            return
        seen.add(name)
        for p in preds[name]:
            visit(p, by)
        order.append(by[name])

    by = {t.name: t for t in tasks}
    for t in tasks:
        visit(t.name, by)
    return order


def _last_iteration(task, n: int) -> int:
    """Iteration of the last instance of ``task`` in a phase of ``n`` iterations (-1: none)."""
    c = task.count(n)
    return task.offset + (c - 1) * task.every if c else -1


_MAX_SPECIAL_RESIDUES = 512


def _iteration_classes(phase: Phase, n: int):
    """(tasks that run, number of iterations) for each distinct set of running tasks in 0..n-1,
    or None when guarded tasks make too many distinct iterations to list cheaply."""
    period = phase.period
    special = set()
    for t in phase.tasks:
        if t.every > 1:
            if period // t.every + len(special) > _MAX_SPECIAL_RESIDUES:
                return None
            special.update(range(t.offset, period, t.every))
    classes = {}

    def count(r):
        return (n - 1 - r) // period + 1 if r < n else 0

    generic = n
    for r in special:
        c = count(r)
        if c:
            key = tuple(k for k, t in enumerate(phase.tasks) if r % t.every == t.offset)
            classes[key] = classes.get(key, 0) + c
            generic -= c
    if generic:
        key = tuple(k for k, t in enumerate(phase.tasks) if t.every == 1)
        classes[key] = classes.get(key, 0) + generic
    return [(tuple(phase.tasks[k] for k in key), c) for key, c in classes.items()]


def _spans(tasks) -> dict | None:
    """Per unit, the longest chain from its first to the end of its last task among ``tasks``
    (one iteration), or None if data and program-order edges form a cycle (the DES refuses
    such a graph as a deadlock)."""
    index = {t.name: k for k, t in enumerate(tasks)}
    succ = [dict() for _ in tasks]  # k -> {j: weight}
    last_on = {}
    for k, t in enumerate(tasks):
        if t.unit in last_on:
            j = last_on[t.unit]
            succ[j][k] = max(succ[j].get(k, 0), tasks[j].cycles)
        last_on[t.unit] = k
        for d in t.deps:
            j = index.get(d.task)
            if d.distance == 0 and j is not None:
                succ[j][k] = max(succ[j].get(k, 0), tasks[j].cycles + tasks[j].latency)
    indeg = [0] * len(tasks)
    for s in succ:
        for k in s:
            indeg[k] += 1
    order = [k for k in range(len(tasks)) if not indeg[k]]
    for k in order:
        for j in succ[k]:
            indeg[j] -= 1
            if not indeg[j]:
                order.append(j)
    if len(order) != len(tasks):
        return None
    first_on = {}
    for k, t in enumerate(tasks):
        first_on.setdefault(t.unit, k)
    spans = {}
    for unit, f in first_on.items():
        dist = {f: 0}
        for k in order:
            if k in dist:
                for j, w in succ[k].items():
                    if dist.get(j, -1) < dist[k] + w:
                        dist[j] = dist[k] + w
        spans[unit] = dist[last_on[unit]] + tasks[last_on[unit]].cycles
    return spans


def phase_bound(phase: Phase, busy_of=None) -> int:
    """Lower bound on the cycles of one phase (see the module docstring).

    Only the first and the last iteration in which each unit works are examined (at most two
    per unit), so the cost does not grow with the super-period or the iteration count.
    """
    n = phase.iterations
    if n == 0 or not phase.tasks:
        return 0
    if len(phase.tasks) == 1:
        # Fast path, same result as below: a lone task has no same-iteration chain, so its
        # fill is 0 and its drain its own latency (systolic folds are such phases).
        t = phase.tasks[0]
        c = t.count(n)
        return t.cycles * c + t.latency if c else 0
    busy, first_it, last_it = {}, {}, {}
    for t in phase.tasks:
        c = t.count(n)
        if not c:
            continue
        busy[t.unit] = busy.get(t.unit, 0) + t.cycles * c
        first_it[t.unit] = min(first_it.get(t.unit, n), t.offset)
        last_it[t.unit] = max(last_it.get(t.unit, -1), _last_iteration(t, n))
    chains = {}

    def chains_of(i):
        if i not in chains:
            chains[i] = _chains(phase, i)
        return chains[i]

    classes = _iteration_classes(phase, n)
    if classes is not None:
        span = {}
        for tasks, count in classes:
            spans = _spans(tasks)
            if spans is None:
                span = None
                break
            for unit, sp in spans.items():
                span[unit] = span.get(unit, 0) + sp * count
        if span is not None:
            busy = {u: max(b, span.get(u, 0)) for u, b in busy.items()}
    bound = 0
    for unit, b in busy.items():
        tasks, start, _ = chains_of(first_it[unit])
        fill = next(start[t.name] for t in tasks if t.unit == unit)
        tasks, _, tail = chains_of(last_it[unit])
        drain = next(tail[t.name] for t in reversed(tasks) if t.unit == unit)
        bound = max(bound, fill + b + drain)
    return bound


def run(graph: TaskGraph) -> Report:
    """Estimate a lowered task graph: a Report whose cycles are the analytical lower bound."""
    cycles = sum(phase_bound(ph) for ph in graph.phases)
    return report_from_totals(graph, "analytical", cycles, simulated_steps=0, extrapolated_steps=0)
