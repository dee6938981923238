"""A fusion group's tasks laid out in phases: the lock-step waits of its ``sync`` sets, then one
steady phase and, when its Einsums sit at different pipeline stages, the one-iteration
phases that fill and drain the pipeline (:mod:`sim.cascade` builds the tasks).

The tasks come as ``(stage, task, deps)``: ``task`` a template (:meth:`Task.trusted`) with
its guard, ``deps`` ``(task name, distance)`` pairs in work space (a task at work ``w``
waits for work ``w - distance`` of the named task). A task at stage ``s`` runs work ``i - s``
in steady iteration ``i``; fill phase ``k`` (``0 <= k < top``) runs the stages ``s <= k`` at
work ``k - s``, drain phase ``k`` the stages ``s > k`` at work ``n + k - s``, each task only
where its guard lets it.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType

from sim.taskgraph import Dep, Phase, Task

_EMPTY = MappingProxyType({})


def synced(sync: tuple, tasks: list) -> list:
    """``tasks`` (stage, task, deps in work space) with the waits of the group's lock-step
    sets (``sync``): in each iteration of the steady state every task of a set waits until
    every task of the previous set has issued (its unit released; its result is awaited only
    through the data flow), and the first set for the last set one iteration back. The wait
    for a task whose result trails its issue (``latency``) is on a zero-cycle marker,
    ``<task>.issued``, that its unit issues right after it. A task at stage ``s`` waiting for
    one at stage ``s'`` in the same steady iteration reads work ``s' - s`` iterations back
    (negative when the awaited task is at an earlier stage)."""
    if len(sync) < 2:
        return tasks
    stage = {t.name: s for s, t, _ in tasks}
    latency = {t.name: t.latency for _, t, _ in tasks}
    where = {}   # task -> its first set
    for i, members in enumerate(sync):
        for a in members:
            where.setdefault(a, i)
    waits = {}
    for s, t, deps in tasks:
        k = where.get(t.name)
        if k is not None:
            back = 1 if k == 0 else 0
            # a wait for a result already awaited through the data flow says nothing more
            waits[t.name] = [(a, back + stage[a] - s) for a in sync[k - 1]
                             if a in stage and (a, back + stage[a] - s) not in deps]
    marked = {a for ws in waits.values() for a, _ in ws if latency[a]}
    out = []
    for s, t, deps in tasks:
        out.append((s, t, deps + [(f"{a}.issued" if a in marked else a, d) for a, d in waits.get(t.name, ())]))
        if t.name in marked:
            out.append((s, Task.trusted(f"{t.name}.issued", t.unit, 0, 0, _EMPTY, _EMPTY, every=t.every,
                                        offset=t.offset), []))
    return out


@lru_cache(maxsize=4096)
def _dep(task: str, distance: int) -> Dep:
    """``Dep(task, distance)``, one object per value (it is immutable) for every task naming it."""
    return Dep(task, distance)


@lru_cache(maxsize=4096)
def _deps(pairs: tuple) -> tuple:
    """The :func:`_dep` of each ``(task, distance)`` of ``pairs``, one tuple per value."""
    return tuple([_dep(a, d) for a, d in pairs])


def group_phases(gp, tasks) -> list:
    """The group's phases: one steady phase, plus a prologue and an epilogue when stages differ."""
    label = "+".join(gp.einsums)
    stage = {t.name: s for s, t, _ in tasks}
    top = max(stage.values())
    n = gp.iterations
    if top == 0 or n <= top:  # no pipelining (or too few iterations to fill it): work order
        return [Phase(label, tuple(t.derive(tuple(_dep(a, d) for a, d in deps if d >= 0 and (a != t.name or d)),
                                            t.every, t.offset)
                                   for _, t, deps in tasks), n)]
    # a task none of whose instances falls in the steady phase (a guarded load of a next block
    # that does not exist) is left out, and a dependency on it is met: the phase's period is
    # then that of the tasks that run
    offset = {t.name: (t.offset - top + s) % t.every for s, t, _ in tasks}
    live = {a for a, o in offset.items() if o < n - top}
    steady = []
    for s, t, deps in tasks:
        if t.name not in live:
            continue
        ds = _deps(tuple([(a, max(0, d + s - stage[a])) for a, d in deps
                          if a in live and (a != t.name or d + s - stage[a] > 0)]))
        steady.append(t.derive(ds, t.every, offset[t.name]))
    # checked: every dependency of a fill or drain phase is one of the steady phase's
    # same-iteration dependencies (a task at work w reading work w - d of a task ``stage[a] - s``
    # stages earlier has d + s - stage[a] = 0), so the edge phases need no check of their own
    steady_phase = Phase.lowered(f"{label}.steady", tuple(steady), n - top)   # dependencies on live tasks only
    # fill phase k (0 <= k < top) runs stage s <= k at work k - s, drain phase k stage s > k
    # at work n + k - s: each task lists the phases its guard (every, offset) lets it run in.
    # A task at work w reads work w - d of a task at stage s' (at work k - s' or n + k - s')
    # only if s' = s + d, whatever the phase: its candidate dependencies, found once
    fill, drain = [[] for _ in range(top)], [[] for _ in range(top)]
    for s, t, deps in tasks:
        candidates = tuple([a for a, d in deps if a != t.name and stage.get(a) == s + d])
        entry = (t, candidates, (t.name, candidates))
        for k in range(s + t.offset, top, t.every):
            fill[k].append(entry)
        for k in range((t.offset - n + s) % t.every, s, t.every):
            drain[k].append(entry)
    shared = ({}, {})
    out = [edge_phase(f"{label}.prologue{k}", fill[k], shared) for k in range(top)]
    out.append(steady_phase)
    out += [edge_phase(f"{label}.epilogue{k}", drain[k], shared) for k in range(top)]
    return [p for p in out if p.tasks]


def edge_phase(name, chosen: list, shared: tuple) -> Phase:
    """One iteration of a pipeline's fill or drain: the ``chosen`` tasks (task, candidate
    dependencies, the key of the task with all of them: :func:`group_phases`), each with its
    candidates that run in it (a subset of the checked steady phase's same-iteration
    dependencies). ``shared``: what a group's edge phases share (tasks are immutable): the
    tasks of a set of chosen ones (by name), and a task with given dependencies (by name and
    dependencies)."""
    by_names, by_deps = shared
    names = tuple([t.name for t, _, _ in chosen])
    out = by_names.get(names)
    if out is None:
        present = set(names)
        tasks = []
        for t, candidates, all_kept in chosen:
            key = all_kept if present.issuperset(candidates) else (t.name, tuple([a for a in candidates if a in present]))
            task = by_deps.get(key)
            if task is None:
                if not key[1] and t.every == 1 and not t.offset and not t.deps:
                    task = t   # the template itself: no dependency, runs in every iteration
                else:
                    task = t.derive(_deps(tuple([(a, 0) for a in key[1]])), 1, 0)
                by_deps[key] = task
            tasks.append(task)
        out = by_names[names] = tuple(tasks)
    return Phase.trusted(name, out, 1)
