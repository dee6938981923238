"""Software pipelining of a tile loop into the folded phases of a task graph.

In hardware terms: a mapped loop runs the same *body* on tile after tile; to keep every unit
busy, a body is split into stages and stage ``s`` of the body works on the tile that stage 0
started ``s`` iterations earlier (FuseMax overlaps the 1D array's work on one tile with the 2D
array's work on the next; FLAT overlaps the softmax of one row block with QK of the next).

A :class:`Step` is one task of the body written in *tile space*: it runs on tile ``t`` when
``t % every == offset`` and depends on other steps at a *tile distance* (0: the same tile,
1: the previous tile, ``k``: a buffer of ``k`` slots). :func:`pipeline` lowers ``n`` tiles to

* ``S - 1`` one-iteration prologue phases that fill the pipeline (stage ``<= j`` only),
* one steady-state phase of ``n - S + 1`` iterations in which stage ``s`` works on tile
  ``k + S - 1 - s`` (its tile-space dependency distance ``d`` becomes ``d + s_c - s_p``
  iterations, its guard offset shifts by ``S - 1 - s``),
* ``S - 1`` one-iteration epilogue phases that drain it (stage ``>= j`` only),

so the whole loop stays a handful of folded phases however many tiles it has (fewer tiles
than stages: one-iteration phases only). The barriers
between prologue, steady state and epilogue cost at most a pipeline fill; the work (and so
every action count) is exactly that of ``n`` tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType

from arch.errors import MappingError
from sim.taskgraph import Dep, Phase, Task


@dataclass(frozen=True)
class Step:
    """One task of a loop body in tile space (see the module docstring).

    ``deps`` is a tuple of (step name, tile distance); ``cost`` a :class:`sim.attention.hw.Cost`.
    """

    name: str
    unit: str
    cost: object
    deps: tuple = ()
    stage: int = 0
    every: int = 1
    offset: int = 0

    def runs_on(self, tile: int) -> bool:
        return tile % self.every == self.offset


def _template(step: Step) -> Task:
    """The step's task without dependencies or guard (cycles and latency checked once)."""
    c = step.cost
    cycles, latency = c.cycles, c.latency
    if type(cycles) is int and type(latency) is int and cycles >= 0 and latency >= 0:
        return Task.trusted(step.name, step.unit, cycles, latency, MappingProxyType(dict(c.actions)),
                            MappingProxyType(dict(c.energy_pj)), c.active_pe_cycles)
    # anything else goes through the constructor, which normalises it or refuses it
    return Task(step.name, step.unit, cycles, latency=latency, actions=c.actions,
                energy_pj=c.energy_pj, active_pe_cycles=c.active_pe_cycles)


_MAX_RECIPES = 1024
_RECIPES: dict = {}   # (structure, n_tiles class) -> how to build the phases from the steps' costs


def _recipe(name: str, steps, n_tiles: int, structure):
    """The phases of :func:`pipeline` without the costs: for the steady body, per step its
    dependencies and guard; for each edge phase, its label, the live steps and the
    dependencies each keeps. It depends on the steps' structure and, for which steps are live
    at the drain, on ``n_tiles`` modulo the steps' guards (or on ``n_tiles`` itself when there
    are fewer tiles than stages)."""
    by = {s.name: s for s in steps}
    S = 1 + max((s.stage for s in steps), default=0)
    steady = []
    for s in steps:
        deps = tuple([Dep(p, d + s.stage - by[p].stage) for p, d in s.deps])
        shift = S - 1 - s.stage
        steady.append((deps, s.every, (s.offset - shift) % s.every))
    # An edge phase runs step s on tile base - stage(s), so a dependency (p, d) of s falls in
    # the same tile exactly when d + stage(s) - stage(p) == 0: the steady body's distance-0
    # edges, among the live steps. A step with the same live dependencies is the same
    # (immutable) task in every edge phase of one pipeline.
    same_tile = [tuple((p, Dep(p, 0)) for p, d in s.deps if d + s.stage - by[p].stage == 0)
                 for s in steps]

    slots = {}  # (step, its live dependencies) -> index of the task shared by edge phases

    def edge(suffix: str, base: int):
        live = [k for k, s in enumerate(steps)
                if 0 <= base - s.stage < n_tiles and (base - s.stage) % s.every == s.offset]
        names = {steps[k].name for k in live}
        tasks = []
        for k in live:
            deps = tuple([dep for p, dep in same_tile[k] if p in names])
            slot = slots.setdefault((k, tuple([dep.task for dep in deps])), len(slots))
            tasks.append((k, deps, slot))
        return suffix, tuple(tasks), (structure, "edge", tuple(steps[k].name for k in live))

    if n_tiles < S:   # too few tiles for a steady state: one-iteration phases all the way
        return steady, [edge(f".step{j}", j) for j in range(n_tiles + S - 1)], None, len(slots)
    # fill j: stages <= j on tiles j - stage; drain j: stages >= j on tiles n - 1 + j - stage
    before = [edge(f".fill{j}", j) for j in range(S - 1)]
    after = [edge(f".drain{j}", n_tiles - 1 + j) for j in range(1, S)]
    return steady, before, after, len(slots)


def clear_recipes() -> None:
    """Forget the phase recipes kept per step structure (for cold timings)."""
    _RECIPES.clear()


def pipeline(name: str, steps, n_tiles: int) -> list:
    """Phases that run ``steps`` over ``n_tiles`` tiles, software-pipelined by stage."""
    steps = list(steps)
    by = {s.name: s for s in steps}
    stages = 1 + max((s.stage for s in steps), default=0)
    for s in steps:
        if s.every < 1:
            raise MappingError(f"{name}: step {s.name!r} needs every >= 1, not {s.every!r}")
        for p, d in s.deps:
            if p not in by:
                raise MappingError(f"{name}: step {s.name!r} depends on unknown step {p!r}")
            if d + s.stage - by[p].stage < 0:
                raise MappingError(f"{name}: step {s.name!r} would wait on a later tile of {p!r}")
    if n_tiles <= 0:
        return []
    S = stages
    # the structure of every phase follows from the steps' names, units, dependencies, stages
    # and guards (and, for an edge phase, which steps are live in it)
    structure = ("pipeline",) + tuple((s.name, s.unit, tuple(s.deps), s.stage, s.every, s.offset)
                                      for s in steps)
    period = math.lcm(*(s.every for s in steps))
    key = (structure, n_tiles if n_tiles < S else -1 - (n_tiles - 1) % period)
    recipe = _RECIPES.get(key)
    templates = [_template(s) for s in steps]
    if recipe is None:
        recipe = _recipe(name, steps, n_tiles, structure)
        # the steady-state body, checked by the Phase constructor (names, dependencies, no
        # same-iteration cycle) once per structure; every edge phase is a sub-body of it
        Phase(name, [t.derive(*r) for t, r in zip(templates, recipe[0])], 0)
        if len(_RECIPES) >= _MAX_RECIPES:
            _RECIPES.clear()
        _RECIPES[key] = recipe
    steady_recipe, edges_before, edges_after, n_slots = recipe
    made = [None] * n_slots

    def edge_phase(suffix, tasks, skey):
        out = []
        for k, deps, slot in tasks:
            t = made[slot]
            if t is None:
                t = made[slot] = templates[k].derive(deps)
            out.append(t)
        return Phase.trusted(name + suffix, tuple(out), 1, skey)

    phases = [edge_phase(*e) for e in edges_before]
    if edges_after is None:
        return phases
    steady = tuple([t.derive(*r) for t, r in zip(templates, steady_recipe)])
    phases.append(Phase.trusted(name, steady, n_tiles - S + 1, (structure, "steady")))
    phases += [edge_phase(*e) for e in edges_after]
    return phases
