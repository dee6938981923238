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


def _task(step: Step, deps, every=1, offset=0) -> Task:
    c = step.cost
    return Task(step.name, step.unit, c.cycles, latency=c.latency, deps=tuple(deps),
                actions=c.actions, energy_pj=c.energy_pj, active_pe_cycles=c.active_pe_cycles,
                every=every, offset=offset)


def _edge_phase(name: str, steps, tiles: dict) -> Phase:
    """A one-iteration phase: ``tiles`` maps step name -> the tile it works on (or absent)."""
    live = [s for s in steps if s.name in tiles and s.runs_on(tiles[s.name])]
    names = {s.name for s in live}
    tasks = []
    for s in live:
        deps = [Dep(p, 0) for p, d in s.deps
                if p in names and tiles[p] == tiles[s.name] - d]
        tasks.append(_task(s, deps))
    return Phase(name, tasks, 1)


def pipeline(name: str, steps, n_tiles: int) -> list:
    """Phases that run ``steps`` over ``n_tiles`` tiles, software-pipelined by stage."""
    steps = list(steps)
    by = {s.name: s for s in steps}
    stages = 1 + max((s.stage for s in steps), default=0)
    for s in steps:
        for p, d in s.deps:
            if p not in by:
                raise MappingError(f"{name}: step {s.name!r} depends on unknown step {p!r}")
            if d + s.stage - by[p].stage < 0:
                raise MappingError(f"{name}: step {s.name!r} would wait on a later tile of {p!r}")
    if n_tiles <= 0:
        return []
    S = stages
    if n_tiles < S:   # too few tiles for a steady state: one-iteration phases all the way
        return [_edge_phase(f"{name}.step{j}", steps,
                            {s.name: j - s.stage for s in steps if 0 <= j - s.stage < n_tiles})
                for j in range(n_tiles + S - 1)]
    phases = [_edge_phase(f"{name}.fill{j}", steps, {s.name: j - s.stage for s in steps if s.stage <= j})
              for j in range(S - 1)]
    tasks = []
    for s in steps:
        deps = [Dep(p, d + s.stage - by[p].stage) for p, d in s.deps]
        shift = S - 1 - s.stage
        tasks.append(_task(s, deps, s.every, (s.offset - shift) % s.every))
    phases.append(Phase(name, tasks, n_tiles - S + 1))
    phases += [_edge_phase(f"{name}.drain{j}", steps,
                           {s.name: n_tiles - 1 - s.stage + j for s in steps if s.stage >= j})
               for j in range(1, S)]
    return phases
