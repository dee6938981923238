"""The mapper: searches the valid mappings of an Einsum on a spatial accelerator for the best one.

In hardware terms it tries every way to bind the Einsum to a PE array that has its operators,
to spread ranks across the array's dimensions, to size the global-buffer tile of each rank and
to order the tile loops, throws away what does not fit (:func:`mappings.mapping.check_einsum`),
costs the rest and keeps the best for the objective: ``latency`` (cycles, then energy),
``energy`` (pJ, then cycles) or ``edp`` (cycles x pJ).

The cost model is passed in (``evaluate(spec, shape, einsum_mapping, on_chip) -> (cycles, energy_pj)``;
:func:`sim.lower.cost` is the analytical one, whose cycles are those of both engines: the steady
state of the double-buffered tile pipeline, DRAM latency included) because the mapper sits below
the cost engines.

Search space, for each rank of size ``n`` with spatial factor ``s``: spatial factors are the
whole array dimension or the whole rank, whichever is smaller (one rank per dimension, every
ordered choice, dimensions may stay unused); buffer tiles are ``s * 2^i`` below ``n``, and ``n``;
every loop order. The order of enumeration is fixed and ties go to the earliest candidate, so
the result is deterministic.

Pruning: a :class:`CostModel` may carry lower bounds (``bounds(spec, shape, unit, on_chip)``,
see :class:`sim.lower.CostBounds`): one for a whole spatial choice (every tensor moved once,
every PE step taken) and one per candidate (its counts with the same rules, over numpy arrays).
The search visits spatial choices, then their candidates, in ascending order of bound, and costs
a candidate only while its bound is not strictly worse than the best found: the result equals the
exhaustive search's, mapping, cycles and energy, at a few dozen costed candidates instead of
tens of thousands. ``exhaustive=True`` costs every candidate; ``max_evaluations`` costs the first
valid ones in enumeration order and stops.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from arch.errors import MappingError
from mappings.mapping import (EinsumMapping, EinsumShape, Mapping, buffer_levels, check, check_einsum,
                              on_chip_tensors)

OBJECTIVES = ("latency", "energy", "edp")


def check_objective(objective) -> None:
    """:class:`MappingError` unless ``objective`` is one of :data:`OBJECTIVES` (every mapper's rule)."""
    if objective not in OBJECTIVES:
        raise MappingError(f"'objective' must be one of {', '.join(OBJECTIVES)}, not {objective!r}")


@dataclass(frozen=True)
class CostModel:
    """What the mapper costs candidates with: ``evaluate(spec, shape, mapping, on_chip) ->
    (cycles, energy_pj)`` and, optionally, ``bounds(spec, shape, unit, on_chip)`` returning an
    object with ``spatial(factors)`` and ``candidates(factors, tiles, pos, tile_of)`` lower
    bounds (or None where they do not apply), evaluated by the same rules as ``evaluate``
    (:class:`sim.lower.CostBounds`). Calling the model evaluates."""

    evaluate: object
    bounds: object = None

    def __call__(self, spec, shape, mapping, on_chip=frozenset()):
        return self.evaluate(spec, shape, mapping, on_chip)


@dataclass(frozen=True)
class SearchResult:
    """The best mapping found and how the search went.

    Attributes
    ----------
    best : EinsumMapping
    cycles : int
    energy_pj : float
    evaluated : int
        Candidates costed with ``evaluate`` (valid ones).
    rejected : int
        Candidates refused by the validity check.
    seconds : float
        Wall time of the search (s).
    pruned : int
        Candidates never costed because their lower bound was already worse than the best
        found (valid or not). ``evaluated + rejected + pruned`` is the number of candidates.
    """

    best: EinsumMapping
    cycles: int
    energy_pj: float
    evaluated: int
    rejected: int
    seconds: float
    pruned: int = 0

    @property
    def rate_per_s(self) -> float:
        """Mappings costed per second of wall time."""
        return self.evaluated / self.seconds if self.seconds > 0 else float("inf")


def objective_key(objective: str, cycles, energy) -> tuple:
    """What every mapper minimises (lexicographically) for ``objective`` (:data:`OBJECTIVES`):
    latency (cycles, then pJ), energy (pJ, then cycles) or edp (cycles x pJ, then cycles)."""
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


def _units(spec, shape: EinsumShape, unit: str | None) -> list:
    return [unit] if unit else [u for u, cu in spec.compute.items()
                                if all(cu.supports(op) for op, n in shape.op_counts.items() if n)]


def _spatial_groups(spec, shape: EinsumShape, unit: str | None = None):
    """(unit, spatial, outermost buffer or None, tile options per rank) in enumeration order."""
    ranks = tuple(shape.ranks)
    for uname in _units(spec, shape, unit):
        cu = spec.compute[uname]
        shared = [lv for lv in buffer_levels(spec, uname) if spec.storage[lv].per_pe_of is None]
        dims = cu.shape
        for pick in itertools.product([None, *ranks], repeat=len(dims)):
            used = [r for r in pick if r is not None]
            if len(set(used)) != len(used):
                continue
            spatial = tuple((r, min(d, shape.ranks[r])) for r, d in zip(pick, dims) if r is not None)
            sf = {r: f for r, f in spatial}
            yield uname, spatial, shared[0] if shared else None, [_tile_options(shape.ranks[r], sf.get(r, 1)) for r in ranks]


def _tile_groups(spec, shape: EinsumShape, unit: str | None = None):
    """(first candidate, loop orders) per (unit, spatial, tiles), in enumeration order; validity
    does not depend on the loop order, so a group is checked once."""
    ranks = tuple(shape.ranks)
    for uname, spatial, glb, tile_sets in _spatial_groups(spec, shape, unit):
        for tiles in itertools.product(*tile_sets):
            tmap = {glb: dict(zip(ranks, tiles))} if glb else {}
            looping = [r for r, t in zip(ranks, tiles) if t < shape.ranks[r]]
            # Loops that run once do not change reuse: order only the ones that loop.
            rest = tuple(r for r in ranks if r not in looping)
            orders = [tuple(perm) + rest for perm in itertools.permutations(looping)]
            yield EinsumMapping(shape.name, uname, spatial, tmap, orders[0]), orders


def candidates(spec, shape: EinsumShape, unit: str | None = None):
    """Every candidate mapping of ``shape`` (valid or not), in a fixed order."""
    for first, orders in _tile_groups(spec, shape, unit):
        for order in orders:
            yield dataclasses.replace(first, loop_order=order)


def _better(k, idx, best_key, best_idx) -> bool:
    return best_key is None or (k, idx) < (best_key, best_idx)


def _search_plain(spec, shape, evaluate, objective, unit, max_evaluations, on_chip):
    """Every candidate in enumeration order (the reference; honours ``max_evaluations``)."""
    best = best_key = best_cost = None
    evaluated = rejected = 0
    last_error = None
    for first, orders in _tile_groups(spec, shape, unit):
        try:
            check_einsum(first, shape, spec)
        except MappingError as err:
            rejected += len(orders)
            last_error = err
            continue
        for order in orders:
            m = first if order == first.loop_order else dataclasses.replace(first, loop_order=order)
            cycles, energy = evaluate(spec, shape, m, on_chip)
            evaluated += 1
            k = objective_key(objective, cycles, energy)
            if best_key is None or k < best_key:
                best, best_key, best_cost = m, k, (cycles, energy)
            if max_evaluations is not None and evaluated >= max_evaluations:
                return best, best_cost, evaluated, rejected, 0, last_error
    return best, best_cost, evaluated, rejected, 0, last_error


@functools.lru_cache(maxsize=8)
def _perm_tables(R: int):
    """Permutations of R ranks, each one's rank positions (P x R), and per looping mask the
    indices of the candidate orders (the looping ranks permuted, the others after them in rank
    order) in enumeration order, padded with -1 (2^R x max count)."""
    perms = list(itertools.permutations(range(R)))
    index = {p: i for i, p in enumerate(perms)}
    pos = np.empty((len(perms), R), dtype=np.int64)
    for i, p in enumerate(perms):
        pos[i, list(p)] = np.arange(R)
    table = np.full((2**R, len(perms)), -1, dtype=np.int64)
    for mask in range(2**R):
        looping = [r for r in range(R) if mask >> r & 1]
        rest = tuple(r for r in range(R) if not mask >> r & 1)
        for j, perm in enumerate(itertools.permutations(looping)):
            table[mask, j] = index[perm + rest]
    fact = np.array([math.factorial(k) for k in range(R + 1)], dtype=np.int64)
    return perms, pos, table, fact


def _count(shape, tile_sets) -> int:
    """Candidates of one spatial group: sum over tile sets of (number of looping ranks)!."""
    poly = [1]  # poly[k]: tile sets with k looping ranks
    for r, opts in zip(shape.ranks, tile_sets):
        loop = sum(1 for t in opts if t < shape.ranks[r])
        nxt = [0] * (len(poly) + 1)
        for k, c in enumerate(poly):
            nxt[k] += c * (len(opts) - loop)
            nxt[k + 1] += c * loop
        poly = nxt
    return sum(c * math.factorial(k) for k, c in enumerate(poly))


def _search_bounded(spec, shape, evaluate, objective, unit, on_chip, bounds_of):
    """Branch and bound: spatial groups in ascending order of their bound, then their candidates
    in ascending order of theirs; a candidate is costed unless its bound is strictly worse than
    the best found, ties fall to the earlier candidate of the enumeration (as in the plain search).
    Returns None when the bounds do not apply."""
    ranks = tuple(shape.ranks)
    R = len(ranks)
    groups = []
    bounds = {}
    for gi, (uname, spatial, glb, tile_sets) in enumerate(_spatial_groups(spec, shape, unit)):
        if uname not in bounds:
            bounds[uname] = bounds_of(spec, shape, uname, on_chip)
        if bounds[uname] is None or glb is None:
            return None
        c, e = bounds[uname].spatial(dict(spatial))
        groups.append((objective_key(objective, c, e), gi, uname, spatial, glb, tile_sets))
    groups.sort(key=lambda g: (g[0], g[1]))
    perms, posarr, table, fact = _perm_tables(R)
    sizes = np.array([shape.ranks[r] for r in ranks], dtype=np.int64)
    best = best_key = best_idx = best_cost = None
    evaluated = rejected = pruned = 0
    for gkey, gi, uname, spatial, glb, tile_sets in groups:
        if best_key is not None and gkey > best_key:
            pruned += _count(shape, tile_sets)
            continue
        grid = np.array(list(itertools.product(*tile_sets)), dtype=np.int64).reshape(-1, R)
        # Tile sets that cannot fit a buffer (the footprint rule of check_einsum, exactly).
        fits = np.ones(len(grid), dtype=bool)
        for lv in buffer_levels(spec, uname):
            level = spec.storage[lv]
            ext = grid if level.per_pe_of is None else np.ones_like(grid)
            words = sum(np.prod(ext[:, [r in trs for r in ranks]], axis=1) for trs in shape.tensors.values())
            fits &= words * level.word_bytes <= level.size_bytes
        looping = grid < sizes
        mask = looping @ (1 << np.arange(R))
        count = fact[looping.sum(axis=1)]
        t_idx = np.repeat(np.arange(len(grid)), count)
        j = np.arange(len(t_idx)) - np.repeat(np.cumsum(count) - count, count)
        p_idx = table[mask[t_idx], j]
        ok = fits[t_idx]
        rejected += int((~ok).sum())
        cand = np.flatnonzero(ok)
        if not len(cand):
            continue
        cyc, en = bounds[uname].candidates(dict(spatial), grid, posarr[p_idx[cand]], t_idx[cand])
        k1, k2 = (cyc, en) if objective == "latency" else (en, cyc) if objective == "energy" else (cyc * en, cyc)
        visit = np.lexsort((cand, k2, k1))
        checked = {}
        for n_done, v in enumerate(visit):
            lb = (float(k1[v]), float(k2[v]))
            if best_key is not None and lb > best_key:
                pruned += len(visit) - n_done
                break
            c = int(cand[v])
            t = int(t_idx[c])
            tiles = {glb: dict(zip(ranks, (int(x) for x in grid[t])))}
            order = tuple(ranks[i] for i in perms[p_idx[c]])
            m = EinsumMapping(shape.name, uname, spatial, tiles, order)
            if t not in checked:
                try:
                    check_einsum(m, shape, spec)
                    checked[t] = True
                except MappingError:
                    checked[t] = False
            if not checked[t]:
                rejected += 1
                continue
            cycles, energy = evaluate(spec, shape, m, on_chip)
            evaluated += 1
            k, idx = objective_key(objective, cycles, energy), (gi, c)
            if _better(k, idx, best_key, best_idx):
                best, best_key, best_idx, best_cost = m, k, idx, (cycles, energy)
    return best, best_cost, evaluated, rejected, pruned, None


def search(spec, shape: EinsumShape, evaluate, objective: str = "latency", unit: str | None = None,
           max_evaluations: int | None = None, on_chip=frozenset(), exhaustive: bool = False) -> SearchResult:
    """Best valid mapping of ``shape`` on ``spec`` for ``objective``.

    ``evaluate(spec, shape, mapping, on_chip) -> (cycles, energy_pj)``; ``on_chip`` names the
    tensors a fusion group keeps on chip (no DRAM traffic). When ``evaluate`` is a
    :class:`CostModel` with bounds (as :data:`sim.lower.ANALYTICAL` is) the search is a branch and bound that
    returns the mapping the exhaustive search returns; ``exhaustive=True`` or a
    ``max_evaluations`` cap costs every candidate in enumeration order instead.

    Raises
    ------
    MappingError
        Unknown objective, or no valid mapping (no unit has the operators, nothing fits).
    """
    check_objective(objective)
    start = time.perf_counter()
    out = None
    bounds_of = evaluate.bounds if isinstance(evaluate, CostModel) else None
    if bounds_of is not None and not exhaustive and max_evaluations is None:
        out = _search_bounded(spec, shape, evaluate, objective, unit, frozenset(on_chip), bounds_of)
    if out is None or out[0] is None:  # no bounds, or nothing valid: the plain search says why
        out = _search_plain(spec, shape, evaluate, objective, unit, max_evaluations, on_chip)
    best, best_cost, evaluated, rejected, pruned, last_error = out
    if best is None:
        why = f" (last reason: {last_error})" if last_error else " (no compute unit has its operators)"
        raise MappingError(f"einsum {shape.name!r}: no valid mapping on this spec{why}")
    return SearchResult(best, int(best_cost[0]), float(best_cost[1]), evaluated, rejected, time.perf_counter() - start,
                        pruned)


@dataclass(frozen=True)
class CascadeResult:
    """Best mapping of every Einsum of a cascade, and the search's totals."""

    mapping: Mapping
    per_einsum: tuple
    evaluated: int
    rejected: int
    seconds: float
    pruned: int = 0


def search_cascade(spec, shapes, evaluate, objective: str = "latency", fusion: tuple = (),
                   units: dict | None = None, max_evaluations: int | None = None,
                   exhaustive: bool = False) -> CascadeResult:
    """Map every Einsum of ``shapes`` (name -> EinsumShape) on its own, Einsums of a fusion
    group knowing which tensors stay on chip; then check the whole mapping (fused groups must
    fit the buffer together). ``units`` optionally pins Einsum -> unit (a binding)."""
    start = time.perf_counter()
    fusion = tuple(tuple(g) for g in fusion)
    results = []
    for name, shape in shapes.items():
        group = next((g for g in fusion if name in g), (name,))
        results.append(search(spec, shape, evaluate, objective, unit=(units or {}).get(name),
                              max_evaluations=max_evaluations, on_chip=on_chip_tensors(shapes, name, group),
                              exhaustive=exhaustive))
    mapping = Mapping(tuple(r.best for r in results), fusion)
    check(mapping, shapes, spec)
    return CascadeResult(mapping, tuple(results), sum(r.evaluated for r in results),
                         sum(r.rejected for r in results), time.perf_counter() - start,
                         sum(r.pruned for r in results))
