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

from dataclasses import dataclass

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
    """The step's task without dependencies or guard, validated once (cycles, latency)."""
    c = step.cost
    return Task(step.name, step.unit, c.cycles, latency=c.latency, actions=c.actions,
                energy_pj=c.energy_pj, active_pe_cycles=c.active_pe_cycles)


def _edge_phase(name: str, steps, templates: dict, structure, tiles: dict) -> Phase:
    """A one-iteration phase: ``tiles`` maps step name -> the tile it works on (or absent).

    Its same-iteration dependencies are a subset of the steady-state phase's (an edge
    ``p -> s`` at tile distance ``d`` joins the same iteration exactly when
    ``d + stage(s) - stage(p) == 0``), so it is built without the constructor's checks.
    """
    live = [s for s in steps if s.name in tiles and tiles[s.name] % s.every == s.offset]
    names = {s.name for s in live}
    tasks = []
    for s in live:
        ts = tiles[s.name]
        deps = tuple([Dep(p, 0) for p, d in s.deps if p in names and tiles[p] == ts - d])
        tasks.append(templates[s.name].derive(deps))
    # the steps' structure and the live set determine every task's guard and dependencies
    return Phase.trusted(name, tuple(tasks), 1, (structure, "edge", tuple(s.name for s in live)))


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
    templates = {s.name: _template(s) for s in steps}
    # the steady-state body, checked by the Phase constructor (names, dependencies, no
    # same-iteration cycle); every edge phase is a sub-body of it
    tasks = []
    for s in steps:
        deps = tuple([Dep(p, d + s.stage - by[p].stage) for p, d in s.deps])
        shift = S - 1 - s.stage
        tasks.append(templates[s.name].derive(deps, s.every, (s.offset - shift) % s.every))
    steady = Phase(name, tasks, max(n_tiles - S + 1, 0))
    # the structure of every phase below follows from the steps' names, units, dependencies,
    # stages and guards (and, for an edge phase, which steps are live in it)
    structure = ("pipeline",) + tuple((s.name, s.unit, tuple(s.deps), s.stage, s.every, s.offset)
                                      for s in steps)
    steady = Phase.trusted(name, steady.tasks, steady.iterations, (structure, "steady"))
    if n_tiles < S:   # too few tiles for a steady state: one-iteration phases all the way
        return [_edge_phase(f"{name}.step{j}", steps, templates, structure,
                            {s.name: j - s.stage for s in steps if 0 <= j - s.stage < n_tiles})
                for j in range(n_tiles + S - 1)]
    phases = [_edge_phase(f"{name}.fill{j}", steps, templates, structure,
                          {s.name: j - s.stage for s in steps if s.stage <= j})
              for j in range(S - 1)]
    phases.append(steady)
    phases += [_edge_phase(f"{name}.drain{j}", steps, templates, structure,
                           {s.name: n_tiles - 1 - s.stage + j for s in steps if s.stage >= j})
               for j in range(1, S)]
    return phases
