"""The analytical engine: a closed-form lower bound on the cycles of a lowered task graph.

For each phase and each unit ``u`` the unit must (1) wait for the first of its tasks to become
ready, (2) work through all of its task instances back to back, and (3) after its last task,
the results still have to flow through the tasks that depend on it in the last iteration::

    bound(u) = fill(u) + busy(u) + drain(u)
    fill(u)  = earliest start of u's first task in the first iteration u works in, from the
               longest chain of same-iteration dependencies (cycles + latency) before it,
               with no contention
    busy(u)  = sum over u's task instances of their cycles
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
