"""A fusion group's tasks laid out in phases: the lock-step waits of its ``sync`` sets, then one
steady phase and, when its Einsums sit at different pipeline stages, the one-iteration
phases that fill and drain the pipeline (:mod:`sim.cascade` builds the tasks).

The tasks come as ``(stage, task, deps)``: ``task`` a template (:meth:`Task.trusted`) with
its guard, ``deps`` ``(task name, distance)`` pairs in work space (a task at work ``w``
waits for work ``w - distance`` of the named task). A task at stage ``s`` runs work ``i - s``
in steady iteration ``i``; fill phase ``k`` (``0 <= k < top``) runs the stages ``s <= k`` at
work ``k - s``, drain phase ``k`` the stages ``s > k`` at work ``n + k - s``, each task only
where its guard lets it.

Where each task goes, with which dependencies and guard, reads only the group's structure:
the tasks' names, units, stages and dependencies, which of them have a latency, and in which
phases each one's guard lets it run (:func:`_runs`), not their cycles or energy. A
structure is laid out once (:func:`_layout`) and filled with each lowering's templates
(:func:`laid_out`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import count
from types import MappingProxyType

from sim.taskgraph import Dep, Phase, Task

_EMPTY = MappingProxyType({})


def laid_out(gp, sync: tuple, tasks: list, exact: bool = False) -> list:
    """The phases of group plan ``gp`` (its ``einsums`` and ``iterations``) from ``tasks``
    (stage, template, deps in work space), with the waits of the lock-step sets ``sync``
    (:func:`_synced`). ``exact``: lay out every dependency at its own distance, none as any
    far one (the same phases; for checks)."""
    n = gp.iterations
    top = max([s for s, _, _ in tasks])
    pipelined = 0 < top < n
    # a dependency at least this far back is laid out as any other such (_layout), unless a
    # lock-step wait may repeat it (both its tasks in sets): those only beyond it
    near = top + 1 if not exact else math.inf
    paced = _members_of(sync)
    far = []
    structure = []
    for s, t, deps in tasks:
        deps = tuple(deps)
        for a, d in deps:
            if d >= near:
                reach = near + 1 if t.name in paced else near
                if d >= reach or a not in paced:
                    far += [d for a, d in deps if d >= (reach if a in paced else near)]
                    deps = tuple([(a, None if d >= (reach if a in paced else near) else d) for a, d in deps])
                    break
        structure.append((s, t.name, t.unit, t.latency > 0, deps,
                          None if not pipelined else True if t.every == 1 else _runs(s, t, top, n)))
    markers, derived, layout = _layout(gp.einsums, sync, tuple(structure))
    pool = [t for _, t, _ in tasks]   # the templates, their markers, then the tasks derived
    for k in markers:
        t = pool[k]
        pool.append(Task.trusted(f"{t.name}.issued", t.unit, 0, 0, _EMPTY, _EMPTY, None, t.every, t.offset))
    for k, deps, shift, moved in derived:
        if moved:
            deps = list(deps)
            for i, j, delta in moved:
                deps[i] = Dep(deps[i].task, far[j] + delta)
            deps = tuple(deps)
        t = pool[k]
        pool.append(t.derive(deps, 1, 0) if shift is None else t.derive(deps, t.every, (t.offset - shift) % t.every))
    return [Phase.trusted(name, tuple([pool[i] for i in refs]), 1 if sub is None else n - sub)
            for name, sub, refs in layout]


@lru_cache(maxsize=256)
def _members_of(sync: tuple) -> frozenset:
    """The tasks named in lock-step sets ``sync`` (none when fewer than two sets: no waits)."""
    return frozenset(a for members in sync for a in members) if len(sync) > 1 else frozenset()


def _runs(s: int, t, top: int, n: int):
    """Where the guard of task ``t`` at stage ``s`` of a pipeline ``top`` stages deep over ``n >
    top`` iterations lets it run: True for every iteration, else (whether it runs in the
    steady phase, the fill phases it runs in, the drain phases it runs in)."""
    every, offset = t.every, t.offset
    if every == 1:
        return True
    return ((offset - top + s) % every < n - top, tuple(range(s + offset, top, every)),
            tuple(range((offset - n + s) % every, s, every)))


@lru_cache(maxsize=1024)
def _layout(einsums: tuple, sync: tuple, structure: tuple) -> tuple:
    """``(markers, derived, phases)`` of a group of ``einsums`` whose tasks have ``structure``
    (per template: stage, name, unit, whether it has a latency, deps in work space,
    :func:`_runs` or None when the group does not pipeline) and lock-step sets ``sync``.

    The tasks are numbered: the templates, then a marker after them for each of ``markers``
    (the templates whose results a lock-step set awaits by a marker, :func:`_synced`), then
    one per entry of ``derived``, ``(index, deps, shift, moved)``: task ``index`` with
    dependencies ``deps`` (those on far tasks moved to their distance, :func:`_moved`) and its
    guard's offset moved back ``shift`` iterations (every iteration when ``shift`` is None).
    ``phases``: per phase ``(name, sub, tasks)``, ``n - sub`` iterations (one when ``sub`` is
    None) and the numbers of its tasks. The steady phase is checked as the constructors check
    (task names that repeat, tasks that wait on each other).

    A dependency farther back than the pipeline is deep (``None`` in ``structure``) is laid
    out as any other such: it never meets a stage of the pipeline, never waits in a fill or
    drain phase, and its distance in the steady phase is its own plus a shift. (A lock-step
    wait reaches at most one further than the pipeline is deep: :func:`laid_out` keeps a
    dependency that far exact when a wait could repeat it.)"""
    far = count(1)
    slots = [(s, name, unit, late, [(a, _FAR * next(far) if d is None else d) for a, d in deps], runs, k)
             for k, (s, name, unit, late, deps, runs) in enumerate(structure)]
    slots, markers = _synced(sync, slots, len(slots))
    # the tasks: the templates and their markers (indices below `first`), then one per entry
    # that derives a task (an entry in several phases is one task of them all)
    first, derived, index = len(slots), [], {}
    phases = []
    for name, sub, entries in _laid(einsums, slots):
        refs = []
        for e in entries:
            if type(e) is not int:
                k = index.get(id(e))
                if k is None:
                    k = index[id(e)] = first + len(derived)
                    derived.append(_moved(e))
                e = k
            refs.append(e)
        phases.append((name, sub, tuple(refs)))
    return markers, tuple(derived), tuple(phases)


#: The distance standing for the ``j``-th dependency farther back than the pipeline is deep
#: (``j * _FAR``) while a structure is laid out: every test of a layout finds it as far as the
#: real one, and its distance in the layout moves with it (:func:`_moved`).
_FAR = 1 << 40


def _moved(entry: tuple) -> tuple:
    """``entry`` (template index, deps, shift) of a layout as ``(index, deps, shift, moved)``:
    ``moved`` lists, per dependency on a far one (:data:`_FAR`), its position, the far
    dependency's number ``j`` and how much farther back it is laid out than it came in."""
    k, deps, shift = entry
    moved = []
    for i, d in enumerate(deps):
        if d.distance >= _FAR // 2:
            j = (d.distance + _FAR // 2) // _FAR
            moved.append((i, j - 1, d.distance - j * _FAR))
    return (k, deps, shift, tuple(moved))


def _laid(einsums: tuple, slots: list) -> tuple:
    """The phases of :func:`_layout` of the synced ``slots``, with entries ``(index, deps, shift)``."""
    label = "+".join(einsums)
    stage = {name: s for s, name, *_ in slots}
    top = max(stage.values())
    if slots[0][5] is None:   # no pipelining (or too few iterations to fill it): work order
        entries = tuple([(k, _deps(tuple([(a, d) for a, d in deps if d >= 0 and (a != name or d)])), 0)
                         for _, name, _, _, deps, _, k in slots])
        _check(Phase, label, slots, entries)
        return ((label, 0, entries),)
    # a task none of whose instances falls in the steady phase (a guarded load of a next block
    # that does not exist) is left out, and a dependency on it is met: the phase's period is
    # then that of the tasks that run
    live = {name for _, name, _, _, _, runs, _ in slots if runs is True or runs[0]}
    steady = []
    for s, name, _, _, deps, _, k in slots:
        if name in live:
            steady.append((k, _deps(tuple([(a, max(0, d + s - stage[a])) for a, d in deps
                                           if a in live and (a != name or d + s - stage[a] > 0)])), top - s))
    steady = tuple(steady)
    _check(Phase.lowered, f"{label}.steady", slots, steady)   # dependencies on live tasks only
    # checked: every dependency of a fill or drain phase is one of the steady phase's
    # same-iteration dependencies (a task at work w reading work w - d of a task ``stage[a] - s``
    # stages earlier has d + s - stage[a] = 0), so the edge phases need no check of their own.
    # Fill phase k (0 <= k < top) runs stage s <= k at work k - s, drain phase k stage s > k
    # at work n + k - s: each task lists the phases its guard lets it run in (_runs).
    # A task at work w reads work w - d of a task at stage s' (at work k - s' or n + k - s')
    # only if s' = s + d, whatever the phase: its candidate dependencies, found once
    fill, drain = [[] for _ in range(top)], [[] for _ in range(top)]
    for s, name, _, _, deps, runs, k in slots:
        candidates = tuple([a for a, d in deps if a != name and stage.get(a) == s + d])
        entry = (k, name, candidates, runs is True)
        for f in (range(s, top) if runs is True else runs[1]):
            fill[f].append(entry)
        for f in (range(s) if runs is True else runs[2]):
            drain[f].append(entry)
    shared = ({}, {})
    out = [(f"{label}.prologue{f}", None, _edge(fill[f], shared)) for f in range(top)]
    out.append((f"{label}.steady", top, steady))
    out += [(f"{label}.epilogue{f}", None, _edge(drain[f], shared)) for f in range(top)]
    return [p for p in out if p[2]]


def _check(make, name: str, slots: list, entries: tuple) -> None:
    """Build phase ``name`` of ``entries`` (:func:`_layout`) of stand-ins of the tasks of
    ``slots`` with ``make`` (a checking constructor): refused as it refuses."""
    names = {slot[6]: slot[1] for slot in slots}
    make(name, tuple([Task.trusted(names[k], "", 0, 0, _EMPTY, _EMPTY).derive(deps) for k, deps, _ in entries]), 0)


def _synced(sync: tuple, slots: list, first_marker: int) -> tuple:
    """``(slots, markers)``: ``slots`` (stage, name, unit, late, deps in work space, runs,
    template index) with the waits of the group's lock-step sets (``sync``): in each
    iteration of the steady state every task of a set waits until every task of the previous
    set has issued (its unit released; its result is awaited only through the data flow),
    and the first set for the last set one iteration back. The wait for a task whose result
    trails its issue (``late``) is on a zero-cycle marker, ``<task>.issued``, that its unit
    issues right after it, with its guard: a slot of template index ``first_marker + j`` for
    the ``j``-th of ``markers`` (the indices of the tasks marked). A task at stage ``s``
    waiting for one at stage ``s'`` in the same steady iteration reads work ``s' - s``
    iterations back (negative when the awaited task is at an earlier stage)."""
    if len(sync) < 2:
        return slots, ()
    stage = {slot[1]: slot[0] for slot in slots}
    late = {slot[1]: slot[3] for slot in slots}
    where = {}   # task -> its first set
    for i, members in enumerate(sync):
        for a in members:
            where.setdefault(a, i)
    waits = {}
    for s, name, _, _, deps, _, _ in slots:
        k = where.get(name)
        if k is not None:
            back = 1 if k == 0 else 0
            # a wait for a result already awaited through the data flow says nothing more
            waits[name] = [(a, back + stage[a] - s) for a in sync[k - 1]
                           if a in stage and (a, back + stage[a] - s) not in deps]
    marked = {a for ws in waits.values() for a, _ in ws if late[a]}
    out, markers = [], []
    for s, name, unit, lat, deps, runs, k in slots:
        out.append((s, name, unit, lat, deps + [(f"{a}.issued" if a in marked else a, d) for a, d in waits.get(name, ())],
                    runs, k))
        if name in marked:
            out.append((s, f"{name}.issued", unit, False, [], runs, first_marker + len(markers)))
            markers.append(k)
    return out, tuple(markers)


@lru_cache(maxsize=4096)
def _dep(task: str, distance: int) -> Dep:
    """``Dep(task, distance)``, one object per value (it is immutable) for every task naming it."""
    return Dep(task, distance)


@lru_cache(maxsize=4096)
def _deps(pairs: tuple) -> tuple:
    """The :func:`_dep` of each ``(task, distance)`` of ``pairs``, one tuple per value."""
    return tuple([_dep(a, d) for a, d in pairs])


def _edge(chosen: list, shared: tuple) -> tuple:
    """The entries (:func:`_layout`) of one iteration of a pipeline's fill or drain: the
    ``chosen`` tasks (template index, name, candidate dependencies, whether it runs in every
    iteration), each with its candidates that run in it (a subset of the checked steady
    phase's same-iteration dependencies). ``shared``: what a group's edge phases share: the
    entries of a set of chosen tasks (by name), and an entry with given dependencies (by name
    and dependencies)."""
    by_names, by_deps = shared
    names = tuple([name for _, name, _, _ in chosen])
    out = by_names.get(names)
    if out is None:
        present = set(names)
        entries = []
        for k, name, candidates, plain in chosen:
            kept = candidates if present.issuperset(candidates) else tuple([a for a in candidates if a in present])
            entry = by_deps.get((name, kept))
            if entry is None:
                # the template itself when it waits for nothing and runs in every iteration
                entry = by_deps[(name, kept)] = k if not kept and plain else (k, _deps(tuple([(a, 0) for a in kept])), None)
            entries.append(entry)
        out = by_names[names] = tuple(entries)
    return out
