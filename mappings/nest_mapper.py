"""The hierarchy mapper: the best :class:`mappings.nest.NestMapping` of one Einsum on a memory
hierarchy of any depth, found by branch and bound.

In hardware terms: for every storage level it chooses which tensors the level keeps, how each
rank is split into temporal loops per level and spatial loops over each fan-out's X and Y, and
in which order each level's loops run; it refuses what does not fit a level's capacity or a
fan-out, costs the rest with the counting model and keeps the best for the objective:
``latency`` (cycles, then energy), ``energy`` (pJ, then cycles) or ``edp`` (cycles x pJ, then
cycles). Equal costs go to the least mapping in a fixed order (:func:`canonical`), so the
result does not depend on the order of the search.

The cost model is passed in, because the mapper sits below the cost engines:
``cost.evaluate(nest) -> (cycles, energy_pj)`` and ``cost.bound(nest, assigned_from, ordered,
precise, open_ranks, prefix, worth) -> (cycles, energy_pj)``, a floor that no completion of a
partial mapping goes below (:class:`sim.nest_bounds.NestCost` says what each argument leaves
open; ``precise`` asks for a tighter, costlier floor, taken only for loop orders the cheap
floor could not drop; ``worth(cycles, energy_pj)`` tells whether a floor is still low enough
to be worth raising further); ``cost.bound_orders(nest, level, orders, assigned_from, ordered,
prefix, worth)`` gives ``bound`` for each of a level's loop orders in one pass (the siblings
of one node of the loop-order stage).

Search space (narrowed by :class:`LevelRule` per level, e.g. from a Timeloop constraints file):

- keep / bypass per level and tensor (the outermost level keeps every tensor);
- spatial factors per fan-out axis: divisors of the ranks whose product fits the axis; the
  order of spatial loops does not change any count, so each set is taken once;
- temporal factors per level: every factorization of what is left of each rank;
- loop orders per level, of the loops that run more than once: a loop order is taken only once
  per class of orders that give the same counts (two adjacent loops whose ranks index the same
  tensors, each in a dimension of its own with coefficient 1, can swap: :func:`rank_classes`).

Search: (keep, spatial) choices in ascending order of their floor; then temporal factors level
by level from the innermost and, within a level, rank by rank from the rank with the most
choices (a level's capacity is checked with the ranks still open at 1, the least tile any
completion has); then loop orders level by
level from the outermost and, within a level, loop by loop from the outermost. Siblings are
visited in ascending order of their floors; every partial mapping whose floor is strictly worse
than the best complete one is dropped with everything below it. This returns what the
exhaustive search (``exhaustive=True``: no floors) returns, mapping and cost.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, replace

from arch.errors import MappingError
from mappings.mapper import check_objective, objective_key
from mappings.nest import LevelMapping, NestMapping, tile_words



@dataclass(frozen=True)
class LevelRule:
    """What the search may choose at one storage level (default: anything).

    Attributes
    ----------
    temporal : tuple of (rank, factor)
        Temporal factors fixed at this level (``N=1`` keeps rank N off it).
    order : tuple of str
        Ranks whose loops run innermost at this level, innermost first (Timeloop's partial
        permutation); the other loops go above them in any order.
    spatial_x, spatial_y : tuple of (rank, factor)
        Spatial factors fixed on the fan-out below this level.
    x_ranks, y_ranks : frozenset of str or None
        Ranks allowed on each axis (None: every rank).
    keep, bypass : frozenset of str
        Tensors this level must keep, must bypass.
    """

    temporal: tuple = ()
    order: tuple = ()
    spatial_x: tuple = ()
    spatial_y: tuple = ()
    x_ranks: frozenset | None = None
    y_ranks: frozenset | None = None
    keep: frozenset = frozenset()
    bypass: frozenset = frozenset()


@dataclass(frozen=True)
class NestSearchResult:
    """The best mapping and how the search went.

    Attributes
    ----------
    best : NestMapping
    cycles : int
    energy_pj : float
    evaluated : int
        Complete mappings costed with the model.
    bounded : int
        Partial mappings whose floor was computed.
    pruned : int
        Partial mappings dropped (with everything below them) on their floor.
    seconds : float
        Wall time (s).
    complete : bool
        False when a time limit stopped the search: ``best`` is then the best found so far,
        not necessarily the best of the space.
    """

    best: NestMapping
    cycles: int
    energy_pj: float
    evaluated: int
    bounded: int
    pruned: int
    seconds: float
    complete: bool = True

    @property
    def edp(self) -> float:
        """Energy-delay product (pJ x cycles)."""
        return self.cycles * self.energy_pj


def canonical(nest: NestMapping) -> tuple:
    """A total order on mappings, for ties: per level (kept tensors, temporal, X, Y loops)."""
    return tuple((tuple(sorted(lm.keep or ())), lm.temporal, lm.spatial_x, lm.spatial_y) for lm in nest.levels)


def rank_classes(shape) -> dict:
    """rank -> class; adjacent loops of ranks of one class may swap without changing a count.

    Two ranks share a class when the same tensors index them and every dimension they appear
    in is that rank alone with coefficient 1 (no sliding window); every other rank is its own.
    """
    out = {}
    for r in shape.ranks:
        uses = [(t, dim) for t in shape.tensors for dim in shape.projection(t) if any(rr == r for _, rr in dim)]
        if all(len(dim) == 1 and dim[0][0] == 1 for _, dim in uses):
            out[r] = ("plain", frozenset(t for t, _ in uses))
        else:
            out[r] = ("own", r)
    return out


def as_data(nest: NestMapping) -> dict:
    """The mapping as plain data for a record: level -> {"temporal", "spatial_x", "spatial_y":
    [[rank, factor], ...] outermost first; "keep": [tensor, ...] or None for all}."""
    return {lm.level: {"temporal": [list(p) for p in lm.temporal], "spatial_x": [list(p) for p in lm.spatial_x],
                       "spatial_y": [list(p) for p in lm.spatial_y],
                       "keep": None if lm.keep is None else sorted(lm.keep)} for lm in nest.levels}


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def _axis_options(sizes, fixed, allowed, limit) -> list:
    """Every {rank: factor > 1} of one fan-out axis with product <= limit, rank order."""
    opts = []
    for r, n in sizes.items():
        if r in fixed:
            opts.append([fixed[r]] if n % fixed[r] == 0 else [])
        elif allowed is not None and r not in allowed:
            opts.append([1])
        else:
            opts.append([d for d in _divisors(n) if d <= limit])
    out = []
    for combo in itertools.product(*opts):
        if math.prod(combo) <= limit:
            out.append(tuple((r, f) for r, f in zip(sizes, combo) if f > 1))
    return out


class _OutOfTime(Exception):
    """The search's time limit has passed."""


@dataclass
class _Best:
    key: tuple | None = None
    nest: NestMapping | None = None
    cost: tuple | None = None
    evaluated: int = 0
    bounded: int = 0
    pruned: int = 0
    rejected: str = ""


class _Search:
    """One search: the space of ``shape`` on ``hierarchy`` under ``rules``, costed by ``cost``."""

    def __init__(self, hierarchy, shape, cost, objective, rules, exhaustive, deadline=None):
        self.h, self.shape, self.cost = hierarchy, shape, cost
        self.deadline = deadline
        self.objective, self.exhaustive = objective, exhaustive
        self.n = len(hierarchy.levels)
        self.rules = list(rules) if rules is not None else [LevelRule()] * self.n
        if len(self.rules) != self.n:
            raise MappingError(f"rules must give one LevelRule per level ({self.n}), not {len(self.rules)}")
        self.ranks = dict(shape.ranks)
        self.classes = rank_classes(shape)
        self.best = _Best()

    # ------------------------------------------------------------- choices

    def keep_choices(self) -> list:
        tensors = list(self.shape.tensors)
        per_level = []
        for i, rule in enumerate(self.rules):
            if i == 0:
                if rule.bypass:
                    raise MappingError(f"level {self.h.names[0]}: cannot bypass {sorted(rule.bypass)[0]} "
                                       f"(the outermost level keeps every tensor)")
                per_level.append([frozenset(tensors)])
                continue
            fixed_in = [t for t in tensors if t in rule.keep]
            free = [t for t in tensors if t not in rule.keep and t not in rule.bypass]
            subsets = [frozenset(fixed_in) | frozenset(c) for k in range(len(free), -1, -1)
                       for c in itertools.combinations(free, k)]
            per_level.append(subsets)
        return list(itertools.product(*per_level))

    def spatial_choices(self) -> list:
        """Per level ((X loops), (Y loops)), every combination whose products divide the ranks."""
        per_level = []
        for i, rule in enumerate(self.rules):
            fx, fy = self.h.child_fanout(i)
            xs = _axis_options(self.ranks, dict(rule.spatial_x), rule.x_ranks, fx)
            ys = _axis_options(self.ranks, dict(rule.spatial_y), rule.y_ranks, fy)
            per_level.append([(x, y) for x in xs for y in ys])
        out = []
        for combo in itertools.product(*per_level):
            used = {}
            for x, y in combo:
                for r, f in (*x, *y):
                    used[r] = used.get(r, 1) * f
            if all(self.ranks[r] % f == 0 for r, f in used.items()):
                out.append(combo)
        return out

    def orders(self, i, factors) -> list:
        """Loop orders (outermost first) of level ``i``'s looping ranks, one per class of equal counts."""
        looping = [r for r in self.ranks if factors.get(r, 1) > 1]
        inner = [r for r in self.rules[i].order if r in looping]  # innermost first
        free = [r for r in looping if r not in inner]
        out = []
        for perm in itertools.permutations(free):
            order = list(perm) + inner[::-1]
            if any(self.classes[a] == self.classes[b] and list(self.ranks).index(a) > list(self.ranks).index(b)
                   for a, b in zip(order, order[1:])):
                continue
            out.append(tuple(order))
        return out or [()]

    # ------------------------------------------------------------- nests

    def level(self, i, keep, spatial, factors, order=None) -> LevelMapping:
        """Level ``i``'s mapping; loops in ``order`` (outermost first; None: rank order)."""
        if order is None:
            order = tuple(r for r in self.ranks if factors.get(r, 1) > 1)
        return LevelMapping(self.h.names[i], tuple((r, factors[r]) for r in order), spatial[i][0], spatial[i][1],
                            keep[i])

    def nest(self, keep, spatial, temporal, orders) -> NestMapping:
        return NestMapping(tuple(self.level(i, keep, spatial, temporal[i], orders[i]) for i in range(self.n)))

    @staticmethod
    def reordered(nest, i, order, factors) -> NestMapping:
        """``nest`` with level ``i``'s temporal loops in ``order`` (outermost first)."""
        levels = list(nest.levels)
        levels[i] = replace(levels[i], temporal=tuple((r, factors[r]) for r in order))
        return NestMapping(tuple(levels))

    def fits(self, nest, i) -> bool:
        cap = self.h.levels[i].size_words
        if cap is None:
            return True
        ext = nest.extents(i)
        lm = nest.levels[i]
        return sum(tile_words(self.shape, t, ext) for t in self.shape.tensors if lm.keeps(t)) <= cap

    def floor(self, nest, assigned_from, ordered, precise=False, open_ranks=frozenset(), prefix=None):
        if self.deadline is not None and time.process_time() > self.deadline:
            raise _OutOfTime
        self.best.bounded += 1
        c, e = self.cost.bound(nest, assigned_from, ordered, precise, open_ranks, prefix, self.worth)
        return objective_key(self.objective, c, e)

    def floors(self, nest, i, orders, ordered, prefix) -> list:
        """:meth:`floor` of ``nest`` with level ``i``'s loops in each of ``orders``, in one pass
        (the siblings of one node of the loop-order stage)."""
        if self.deadline is not None and time.process_time() > self.deadline:
            raise _OutOfTime
        self.best.bounded += len(orders)
        return [objective_key(self.objective, c, e)
                for c, e in self.cost.bound_orders(nest, i, orders, 0, ordered, prefix, self.worth)]

    def worth(self, cycles, energy) -> bool:
        """Whether a floor of (cycles, energy) may still lead to the best: worth raising."""
        return self.exhaustive or self.best.key is None or objective_key(self.objective, cycles, energy) <= self.best.key

    def hopeless(self, key) -> bool:
        if self.exhaustive or self.best.key is None or key <= self.best.key:
            return False
        self.best.pruned += 1
        return True

    def offer(self, nest):
        try:
            c, e = self.cost.evaluate(nest)
        except MappingError as err:
            self.best.rejected = str(err)
            return
        self.best.evaluated += 1
        k = (objective_key(self.objective, c, e), canonical(nest))
        if self.best.key is None or k < (self.best.key, canonical(self.best.nest)):
            self.best.key, self.best.nest, self.best.cost = k[0], nest, (c, e)

    # ------------------------------------------------------------- the search

    def run(self):
        n = self.n
        roots = []
        for keep in self.keep_choices():
            for spatial in self.spatial_choices():
                left = dict(self.ranks)
                for x, y in spatial:
                    for r, f in (*x, *y):
                        left[r] //= f
                temporal = [dict() for _ in range(n)]
                temporal[0] = left
                nest = self.nest(keep, spatial, temporal, [None] * n)
                roots.append((self.floor(nest, n, ()), canonical(nest), keep, spatial, left))
        roots.sort(key=lambda t: (t[0], t[1]))
        for key, _, keep, spatial, left in roots:
            if self.hopeless(key):
                continue
            self.factors(keep, spatial, [dict() for _ in range(n)], n - 1, left)

    def factors(self, keep, spatial, temporal, i, left):
        """Choose level ``i``'s temporal factors (levels below ``i`` chosen), then go outward."""
        if i == 0:
            temporal = [dict(left)] + temporal[1:]
            nest = self.nest(keep, spatial, temporal, [None] * self.n)
            if self.fits(nest, 0):
                self.permutations(keep, spatial, temporal, [None] * self.n, 0)
            return
        self.rank_factors(keep, spatial, temporal, i, left, {}, 0)

    def rank_factors(self, keep, spatial, temporal, i, left, chosen, k):
        """Choose level ``i``'s factor of the ``k``-th rank (those before it ``chosen``), then
        the next rank; once all are chosen, go outward. A floor is taken for every partial
        choice (the ranks after ``k`` open), so a hopeless one is dropped early."""
        # the ranks with the most choices first: their floors, taken with the others open,
        # drop the most before the choices multiply
        ranks = sorted(self.ranks, key=lambda q: -len(_divisors(left[q])))
        if k == len(ranks):
            nxt = list(temporal)
            nxt[i] = dict(chosen)
            self.factors(keep, spatial, nxt, i - 1, {r: left[r] // chosen[r] for r in ranks})
            return
        r = ranks[k]
        fixed = dict(self.rules[i].temporal)
        if r in fixed:
            opts = [fixed[r]] if left[r] % fixed[r] == 0 else []
        else:
            opts = _divisors(left[r])
        open_ranks = frozenset(ranks[k + 1:])
        children = []
        # the levels below i are chosen and those between 0 and i hold no loop yet
        shared = [None] + [self.level(j, keep, spatial, temporal[j] if j > i else {}) for j in range(1, self.n)]
        for f in opts:
            pick = {**chosen, r: f}
            shared[0] = self.level(0, keep, spatial, {q: left[q] // pick.get(q, 1) for q in ranks})
            shared[i] = self.level(i, keep, spatial, {q: pick.get(q, 1) for q in ranks})
            nest = NestMapping(tuple(shared))
            if not self.fits(nest, i):  # open ranks at 1: the least tile any completion has
                continue
            key = self.floor(nest, i, (), open_ranks=open_ranks) if len(opts) > 1 else ()
            children.append((key, canonical(nest), pick))
        children.sort(key=lambda t: (t[0], t[1]))
        for key, _, pick in children:
            if key and self.hopeless(key):
                continue
            self.rank_factors(keep, spatial, temporal, i, left, pick, k + 1)

    def permutations(self, keep, spatial, temporal, orders, i):
        """Choose level ``i``'s loop order (levels above ``i`` chosen), then go inward."""
        if i == self.n:
            self.offer(self.nest(keep, spatial, temporal, orders))
            return
        base = self.nest(keep, spatial, temporal, orders)  # the other levels, shared by every order of i
        self.order_prefix(keep, spatial, temporal, orders, i, self.orders(i, temporal[i]), (), base)

    def order_prefix(self, keep, spatial, temporal, orders, i, options, prefix, base):
        """Choose the loop after ``prefix`` (outermost first) among level ``i``'s ``options``
        that start with it; a floor for every longer prefix; a whole order goes inward.
        ``base``: the mapping with every level but ``i`` as chosen (built once per level)."""
        m = len(prefix)
        if m == len(options[0]):
            nxt = list(orders)
            nxt[i] = prefix
            if m > 1 and not self.exhaustive:
                nest = self.reordered(base, i, prefix, temporal[i])
                if self.hopeless(self.floor(nest, 0, range(i + 1), precise=True)):
                    return
            self.permutations(keep, spatial, temporal, nxt, i + 1)
            return
        groups = {}
        for order in options:
            groups.setdefault(order[m], []).append(order)
        firsts = [group[0] for group in groups.values()]
        keys = self.floors(base, i, firsts, range(i), (i, m + 1)) if len(groups) > 1 else [()] * len(firsts)
        # siblings differ only in level i's loops: their canonical order is that of those loops
        children = [(key, tuple((q, temporal[i][q]) for q in first), prefix + (r,), group)
                    for key, first, (r, group) in zip(keys, firsts, groups.items())]
        children.sort(key=lambda t: (t[0], t[1]))
        for key, _, longer, group in children:
            if key and self.hopeless(key):
                continue
            self.order_prefix(keep, spatial, temporal, orders, i, group, longer, base)


def search(hierarchy, shape, cost, objective: str = "edp", rules=None, exhaustive: bool = False,
           time_limit_s: float | None = None) -> NestSearchResult:
    """The best mapping of ``shape`` on ``hierarchy`` for ``objective``.

    Parameters
    ----------
    hierarchy : arch.hierarchy.Hierarchy
    shape : mappings.mapping.EinsumShape
    cost : object
        ``evaluate(nest) -> (cycles, energy_pj)``, ``bound`` and ``bound_orders``
        (:class:`sim.nest_bounds.NestCost`; the module docstring gives their arguments).
    objective : {"latency", "energy", "edp"}
    rules : sequence of LevelRule, optional
        One per storage level, outermost first (:func:`mappings.timeloop_constraints.read_constraints`).
    exhaustive : bool
        Cost every mapping of the space (no floors): the reference the pruned search equals.
    time_limit_s : float, optional
        Stop after this many seconds of CPU time (of this process: a loaded machine does not
        shorten the search) and return the best found so far (``complete`` False); None:
        search the whole space.

    Raises
    ------
    MappingError
        Unknown objective, or no valid mapping in the space (the last reason is named).
    """
    check_objective(objective)
    start = time.perf_counter()
    deadline = None if time_limit_s is None else time.process_time() + time_limit_s
    s = _Search(hierarchy, shape, cost, objective, rules, exhaustive, deadline)
    complete = True
    try:
        s.run()
    except _OutOfTime:
        complete = False
    b = s.best
    if b.nest is None:
        why = f" (last reason: {b.rejected})" if b.rejected else " (nothing fits the levels and fan-outs)"
        if not complete:
            why = f" within the time limit of {time_limit_s} s"
        raise MappingError(f"einsum {shape.name!r}: no valid mapping on {hierarchy.name}{why}")
    return NestSearchResult(b.nest, int(b.cost[0]), float(b.cost[1]), b.evaluated, b.bounded, b.pruned,
                            time.perf_counter() - start, complete)
