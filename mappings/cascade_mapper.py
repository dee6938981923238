"""The mapper for whole cascades: fused (:mod:`mappings.cascade_fuser`) and unfused mappings.

A cascade with an iterative rank is mapped fused (its recurrences need a shared loop nest);
any other cascade takes the better of the fused search and the unfused search below.

Unfused: every Einsum placed on its own, exhaustively.

In hardware terms it chooses, for every Einsum, the PE array that runs it (any unit with its
operators) and the ranks it spreads over the array's dimensions (one rank per dimension, a
factor of the whole dimension or the whole rank; iterative ranks never); when the Einsum's
tiles do not fit the global buffer it also walks the ranks in tiles (each rank in tiles of
its spatial factor, or 1, largest ranks first until they fit). Unfused Einsums are separated
by barriers, so the cascade's cycles are the sum of its Einsums' and the best mapping of each
Einsum alone is the best unfused mapping of the cascade: this search is exact over that space
(ties go to the first candidate in enumeration order, so it is deterministic). The Einsums of
a recurrence that spans several Einsums (the running denominator of 1-pass attention) share
one group without loops; they are placed one after another, each given the others' choices.

``cost(cascade, shape, mapping, spec, einsum) -> (cycles, energy_pj)`` prices one Einsum's
group (sim.cascade provides it), keeping this module free of cost models.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from arch.errors import MappingError, SimulationError
from mappings.cascade_fuser import FusedSearch
from mappings.cascade_mapping import CascadeMapping, Group, Placement
from mappings.cascade_plan import recurrences
from mappings.mapper import check_objective, objective_key
from mappings.mapping import shapes_from_cascade



@dataclass(frozen=True)
class CascadeSearch:
    """The mapping found and how the search went: candidates costed and refused, wall time (s)."""

    mapping: CascadeMapping
    cycles: int
    energy_pj: float
    evaluated: int
    rejected: int
    seconds: float


def _candidates(e, shape, spec, iterative, shared):
    """Placements of one Einsum in enumeration order (see the module docstring)."""
    ranks = [r for r in shape.ranks if r not in iterative]
    for uname, unit in spec.compute.items():
        if not all(unit.supports(op) for op, n in shape.op_counts.items() if n):
            continue
        for pick in itertools.product([None, *ranks], repeat=unit.ndim):
            used = [r for r in pick if r is not None]
            if len(set(used)) != len(used):
                continue
            spatial = tuple((r, min(d, shape.ranks[r])) for r, d in zip(pick, unit.shape) if r is not None)
            yield Placement(e.name, uname, spatial)
            if shared:
                sf = dict(spatial)
                by_size = sorted(shape.ranks, key=lambda r: -shape.ranks[r])
                for k in range(1, len(by_size) + 1):
                    tiled = {r: sf.get(r, 1) for r in by_size[:k] if sf.get(r, 1) < shape.ranks[r]}
                    if tiled:
                        yield Placement(e.name, uname, spatial, {shared: tiled},
                                        loop_order=tuple(r for r in e.ranks))


class _Search:
    """Shared state of one search: the shapes, the candidates' costs, the counters."""

    def __init__(self, cascade, shape, spec, cost, objective):
        self.cascade, self.shape, self.spec, self.cost, self.objective = cascade, shape, spec, cost, objective
        self.shapes = shapes_from_cascade(cascade, shape)
        self.iterative = {it.var.upper() for it in cascade.space.iterations}
        self.shared = next((lv for lv, s in spec.storage.items() if s.per_pe_of is None), None)
        self.evaluated = self.rejected = 0

    def candidates(self, e):
        return _candidates(e, self.shapes[e.name], self.spec, self.iterative, self.shared)

    def place(self, name, chosen, fusion):
        """Best placement of Einsum ``name`` given the others: (placement, key) or (None, reason)."""
        e = self.cascade.einsum(name)
        best = best_key = last = None
        for p in self.candidates(e):
            trial = CascadeMapping(tuple({**chosen, name: p}.values()), fusion, self.cascade.name)
            try:
                c, en = self.cost(self.cascade, self.shape, trial, self.spec, name)
            except (MappingError, SimulationError) as err:  # does not fit, or deadlocks
                self.rejected += 1
                last = err
                continue
            self.evaluated += 1
            k = objective_key(self.objective, c, en)
            if best_key is None or k < best_key:
                best, best_key = p, k
        return (best, best_key) if best is not None else (None, last)

    def loop_options(self, group):
        """Shared loops for a recurrence group: none, or a common rank in tiles (powers of two
        from the largest array dimension up), with the iterative rank one step at a time inside."""
        members = [self.cascade.einsum(n) for n in group]
        common = [r for r in members[0].ranks if all(r in e.ranks for e in members) and r not in self.iterative]
        steps = [r for r in members[0].ranks if r in self.iterative and all(r in e.ranks for e in members)]
        yield ()
        t0 = max(max(u.shape) for u in self.spec.compute.values())
        for r in common:
            n, t = self.shapes[members[0].name].ranks[r], t0
            while t < n:
                yield ((r, t), *((x, 1) for x in steps))
                t *= 2


def search(cascade, shape: dict, spec, cost, objective: str = "latency") -> CascadeSearch:
    """Best mapping of ``cascade`` at ``shape`` on ``spec`` for ``objective`` (module docstring).

    Raises
    ------
    MappingError
        Unknown objective, or an Einsum no candidate can run (the last reason is named).
    """
    check_objective(objective)
    start = time.perf_counter()
    fused = FusedSearch(cascade, shape, spec, cost, objective)
    found = fused.run()
    if found is not None and cascade.space.iterations:  # a recurrence: fused is the way
        return CascadeSearch(found[0], found[1], found[2], fused.evaluated, fused.rejected,
                             time.perf_counter() - start)
    s = _Search(cascade, shape, spec, cost, objective)
    s.evaluated, s.rejected = fused.evaluated, fused.rejected
    chosen = {}
    for e in cascade.einsums:
        chosen[e.name] = next(s.candidates(e), None)
        if chosen[e.name] is None:
            raise MappingError(f"einsum {e.name!r}: no compute unit of the spec has its operators")
    # A recurrence spanning several Einsums cannot be split by barriers: its Einsums share a
    # group (its steps run one after another inside each Einsum's work, or one per iteration).
    groups = [g for g in recurrences(cascade) if len(g) > 1] if s.shared else []
    fusion = tuple(Group(g, s.shared) for g in groups)
    for gi, g in enumerate(groups):
        best = None
        for loops in s.loop_options(g):
            trial_fusion = fusion[:gi] + (Group(g, s.shared, loops),) + fusion[gi + 1:]
            trial, key, last = dict(chosen), None, None
            for name in g:
                p, key_or_err = s.place(name, trial, trial_fusion)
                if p is None:
                    key, last = None, key_or_err
                    break
                trial[name], key = p, key_or_err
            if key is not None and (best is None or key < best[0]):
                best = (key, trial, trial_fusion)
        if best is None:
            raise MappingError(f"einsums {list(g)}: no valid mapping on this spec (last reason: {last})")
        _, chosen, fusion = best
    for e in cascade.einsums:
        if any(e.name in g for g in groups):
            continue
        p, key_or_err = s.place(e.name, chosen, fusion)
        if p is None:
            raise MappingError(f"einsum {e.name!r}: no valid mapping on this spec (last reason: {key_or_err})")
        chosen[e.name] = p
    mapping = CascadeMapping(tuple(chosen.values()), fusion, cascade.name)
    total_c, total_e = 0, 0.0
    for name in [g[0] for g in groups] + [e.name for e in cascade.einsums if not any(e.name in g for g in groups)]:
        c, en = cost(cascade, shape, mapping, spec, name)
        total_c, total_e = total_c + c, total_e + en
    if found is not None and objective_key(objective, found[1], found[2]) < objective_key(objective, total_c, total_e):
        mapping, total_c, total_e = found
    return CascadeSearch(mapping, total_c, total_e, s.evaluated, s.rejected, time.perf_counter() - start)
