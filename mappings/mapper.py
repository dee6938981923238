"""The mapper: searches the valid mappings of an Einsum on a spatial accelerator for the best one.

In hardware terms it tries every way to bind the Einsum to a PE array that has its operators,
to spread ranks across the array's dimensions, to size the global-buffer tile of each rank and
to order the tile loops, throws away what does not fit (:func:`mappings.mapping.check_einsum`),
costs the rest and keeps the best for the objective: ``latency`` (cycles, then energy),
``energy`` (pJ, then cycles) or ``edp`` (cycles x pJ).

The cost model is passed in (``evaluate(spec, shape, einsum_mapping, on_chip) -> (cycles, energy_pj)``;
:func:`sim.lower.cost` is the analytical one) because the mapper sits below the cost engines.

Search space, for each rank of size ``n`` with spatial factor ``s``: spatial factors are the
whole array dimension or the whole rank, whichever is smaller (one rank per dimension, every
ordered choice, dimensions may stay unused); buffer tiles are ``s * 2^i`` below ``n``, and ``n``;
every loop order. ``max_evaluations`` bounds the work; the order of enumeration is fixed, so the
result is deterministic.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

from arch.errors import MappingError
from mappings.mapping import (EinsumMapping, EinsumShape, Mapping, buffer_levels, check, check_einsum,
                              on_chip_tensors)

OBJECTIVES = ("latency", "energy", "edp")


@dataclass(frozen=True)
class SearchResult:
    """The best mapping found and how the search went.

    Attributes
    ----------
    best : EinsumMapping
    cycles : int
    energy_pj : float
    evaluated : int
        Mappings costed (valid ones).
    rejected : int
        Candidates refused by the validity check.
    seconds : float
        Wall time of the search (s).
    """

    best: EinsumMapping
    cycles: int
    energy_pj: float
    evaluated: int
    rejected: int
    seconds: float

    @property
    def rate_per_s(self) -> float:
        """Mappings costed per second of wall time."""
        return self.evaluated / self.seconds if self.seconds > 0 else float("inf")


def _key(objective, cycles, energy):
    if objective == "latency":
        return (cycles, energy)
    if objective == "energy":
        return (energy, cycles)
    return (cycles * energy, cycles)


def _tile_options(n: int, s: int) -> list:
    opts, t = [], max(1, s)
    while t < n:
        opts.append(t)
        t *= 2
    opts.append(n)
    return opts


def candidates(spec, shape: EinsumShape, unit: str | None = None):
    """Every candidate mapping of ``shape`` (valid or not), in a fixed order."""
    units = [unit] if unit else [u for u, cu in spec.compute.items()
                                 if all(cu.supports(op) for op, n in shape.op_counts.items() if n)]
    ranks = tuple(shape.ranks)
    for uname in units:
        cu = spec.compute[uname]
        shared = [lv for lv in buffer_levels(spec, uname) if spec.storage[lv].per_pe_of is None]
        dims = cu.shape
        rank_choices = [None, *ranks]
        for pick in itertools.product(rank_choices, repeat=len(dims)):
            used = [r for r in pick if r is not None]
            if len(set(used)) != len(used):
                continue
            spatial = tuple((r, min(d, shape.ranks[r])) for r, d in zip(pick, dims) if r is not None)
            sf = {r: f for r, f in spatial}
            tile_sets = [_tile_options(shape.ranks[r], sf.get(r, 1)) for r in ranks]
            for tiles in itertools.product(*tile_sets):
                tmap = {shared[0]: dict(zip(ranks, tiles))} if shared else {}
                counts = [math.ceil(shape.ranks[r] / t) for r, t in zip(ranks, tiles)]
                looping = [r for r, c in zip(ranks, counts) if c > 1]
                # Loops that run once do not change reuse: order only the ones that loop.
                for perm in itertools.permutations(looping):
                    order = tuple(perm) + tuple(r for r in ranks if r not in looping)
                    yield EinsumMapping(shape.name, uname, spatial, tmap, order)


def search(spec, shape: EinsumShape, evaluate, objective: str = "latency", unit: str | None = None,
           max_evaluations: int | None = None, on_chip=frozenset()) -> SearchResult:
    """Best valid mapping of ``shape`` on ``spec`` for ``objective``.

    ``evaluate(spec, shape, mapping, on_chip) -> (cycles, energy_pj)``; ``on_chip`` names the
    tensors a fusion group keeps on chip (no DRAM traffic).

    Raises
    ------
    MappingError
        Unknown objective, or no valid mapping (no unit has the operators, nothing fits).
    """
    if objective not in OBJECTIVES:
        raise MappingError(f"'objective' must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    start = time.perf_counter()
    best = best_key = best_cost = None
    evaluated = rejected = 0
    last_error = None
    valid = {}  # validity depends on (unit, spatial, tiles), not on the loop order
    for m in candidates(spec, shape, unit):
        key = (m.unit, m.spatial, tuple((lv, tuple(t.items())) for lv, t in m.tiles.items()))
        if key not in valid:
            try:
                check_einsum(m, shape, spec)
                valid[key] = True
            except MappingError as err:
                valid[key] = False
                last_error = err
        if not valid[key]:
            rejected += 1
            continue
        cycles, energy = evaluate(spec, shape, m, on_chip)
        evaluated += 1
        k = _key(objective, cycles, energy)
        if best_key is None or k < best_key:
            best, best_key, best_cost = m, k, (cycles, energy)
        if max_evaluations is not None and evaluated >= max_evaluations:
            break
    if best is None:
        why = f" (last reason: {last_error})" if last_error else " (no compute unit has its operators)"
        raise MappingError(f"einsum {shape.name!r}: no valid mapping on this spec{why}")
    return SearchResult(best, int(best_cost[0]), float(best_cost[1]), evaluated, rejected, time.perf_counter() - start)


@dataclass(frozen=True)
class CascadeResult:
    """Best mapping of every Einsum of a cascade, and the search's totals."""

    mapping: Mapping
    per_einsum: tuple
    evaluated: int
    rejected: int
    seconds: float


def search_cascade(spec, shapes, evaluate, objective: str = "latency", fusion: tuple = (),
                   units: dict | None = None, max_evaluations: int | None = None) -> CascadeResult:
    """Map every Einsum of ``shapes`` (name -> EinsumShape) on its own, Einsums of a fusion
    group knowing which tensors stay on chip; then check the whole mapping (fused groups must
    fit the buffer together). ``units`` optionally pins Einsum -> unit (a binding)."""
    start = time.perf_counter()
    fusion = tuple(tuple(g) for g in fusion)
    results = []
    for name, shape in shapes.items():
        group = next((g for g in fusion if name in g), (name,))
        results.append(search(spec, shape, evaluate, objective, unit=(units or {}).get(name),
                              max_evaluations=max_evaluations, on_chip=on_chip_tensors(shapes, name, group)))
    mapping = Mapping(tuple(r.best for r in results), fusion)
    check(mapping, shapes, spec)
    return CascadeResult(mapping, tuple(results), sum(r.evaluated for r in results),
                         sum(r.rejected for r in results), time.perf_counter() - start)
