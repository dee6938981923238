"""Lower bounds of :func:`sim.nest.evaluate` for partly chosen mappings (the hierarchy mapper's pruning).

In hardware terms: before the mapper has chosen every tile factor and loop order, how few
cycles and how little energy can any completion of the mapping still cost? If that floor is
already worse than the best complete mapping found, the whole subtree is skipped, and the
search still returns what the exhaustive search returns.

A *partial* mapping is a :class:`mappings.nest.NestMapping` with

- every spatial factor and every keep/bypass choice made;
- the temporal factors of the levels ``assigned_from`` and below made; the rest of each
  rank (its size over everything chosen) placed at level 0 as a stand-in: how it will be split
  over the levels above ``assigned_from`` is open;
- the loop order of the levels in ``ordered`` made, and optionally of the outermost loops of one
  more level (``prefix``); every other level's order is open;
- optionally, ``open_ranks`` whose factor at level ``assigned_from`` is not made yet: that
  level holds 1 for them, the stand-in their rest. Moving part of a rest down to that level
  can only grow tiles (by as much as the fetches above shrink, or more), except for a rank the
  tensor does not have, which could go inside that level's loops: the floor lets it.

Why the floor holds, per tensor and per level ``c`` that keeps it (counting rules of
:mod:`sim.nest`, :mod:`sim.reuse`):

- Call a rank *hard* for a tensor when every dimension of the tensor it appears in is that
  rank alone with coefficient 1 (``C`` of ``I[c, r+p]``; ``R`` and ``P`` are not). The tensor
  fetches its whole tile at ``c`` each time a loop above ``c`` advances that is over a hard
  rank, or over a rank the tensor does not have with a loop over one of its ranks inside it
  (:func:`sim.reuse.delta_counts`: the tile moves a full width, in two dimensions, or back
  against its last move). So it fetches at least the product of the trip counts of those loops,
  from the outermost down to the innermost loop over a hard rank. With ``d`` the innermost level
  above ``c`` holding a loop over a hard rank, every such loop above level ``d`` counts whatever
  the orders, and at level ``d`` only those up to its innermost hard loop: an open order puts
  the others inside it (the least), a chosen order is counted as it is. A level above
  ``assigned_from`` cannot be ``d`` unless the stand-in at level 0 is; then its other loops go
  inside, the least over all splits. For a tensor without a sliding window every rank it has is
  hard and this is exactly the model's count once the orders are chosen. The parent serves
  every delta once per distinct copy under the fan-outs between them
  (:func:`sim.reuse.distinct_copies`, the model's multicast rule), a factor fixed once the
  spatial factors are chosen.
- Any tensor at the compute units: one word per MAC step, served once per distinct copy
  (exact, :func:`sim.reuse.distinct_copies`).
- Sweeps, for a tensor with a sliding window (``p+r``) whose ranks each index one dimension:
  each iteration of the loops above a cut fetches at least the union of the tile's positions
  under the loops below it, less the one tile it holds when it starts (:mod:`sim.nest_sweeps`
  says why and where a cut may be taken while choices are open). With ``precise``, once every
  loop order above a level is chosen, its counts there are the model's own
  (:func:`sim.nest.tensor_counts`); the mapper asks for this only for orders the cheaper floor
  could not drop.
- Outputs: the first update of a word is a write (:mod:`sim.nest`), so reads and fills are the
  counts above minus the distinct words, exactly as the model subtracts them.

Cycles: the MAC steps (exact once the spatial factors are chosen), raised by each level's
bandwidth on the floors of its counts. Energy: the floors priced as :func:`sim.nest.evaluate`
prices counts (blocks per action, instances in use, their leakage over the cycle floor, MACs),
plus what the open loop orders cost the tensors that disagree on them: for each level whose
factors are all chosen (an open rank's rest counted only for the tensors that have the rank)
and whose whole order is open, the least priced excess over their floors, over every order of
its loops (:mod:`sim.nest_orders`); level 0 too once every level below it is chosen (the
stand-in is then its own loops).

:class:`NestCost` is what :func:`mappings.nest_mapper.search` is given: ``evaluate(nest)``
(the model), ``bound(nest, assigned_from, ordered, precise)`` (these floors) and
``bound_orders`` (the floors of one level's sibling loop orders in one pass: only the
whole-tile fetches depend on a level's order, the copies, distinct words and tile sizes do not).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from mappings.nest import Loop, NestMapping, dim_width, keeps
from sim.nest import evaluate as count_nest
from sim.nest import price_counts, tensor_counts
from sim.nest_orders import order_extra_pj
from sim.nest_sweeps import sweep_cuts, sweep_floor
from sim.reuse import distinct_copies, strides


@functools.lru_cache(maxsize=4096)
def _copies(dims, spread) -> int:
    """:func:`sim.reuse.distinct_copies` over the spatial loops ``spread`` ((rank, factor,
    level, kind, stride), ...): remembered by these arguments, which are all it reads (a search
    asks for few distinct ones)."""
    loops = [Loop(r, f, lv, kind) for r, f, lv, kind, _ in spread]
    return distinct_copies(dims, loops, [st for *_, st in spread], range(len(spread)))


#: Relative slack taken off an energy floor so that rounding in a different summation order
#: can never lift it over the model's own figure for the same mapping.
_SLACK = 1e-9


class NestCost:
    """The counting model of one Einsum on one hierarchy, with the floors the mapper prunes by.

    Parameters
    ----------
    hierarchy : arch.hierarchy.Hierarchy
    shape : mappings.mapping.EinsumShape
        With projections (affine indices) where the problem has them.
    """

    def __init__(self, hierarchy, shape):
        self.hierarchy = hierarchy
        self.shape = shape
        self.n = len(hierarchy.levels)
        self._dims = {t: shape.projection(t) for t in shape.tensors}
        self._ranks = {t: frozenset(r for dim in d for _, r in dim) for t, d in self._dims.items()}
        self._window = {t: any(len(dim) > 1 or dim[0][0] != 1 for dim in d) for t, d in self._dims.items()}
        self._parts = {}
        #: per tensor: rank -> (dimension, coefficient), None when a rank indexes two dimensions
        self._place = {}
        for t, d in self._dims.items():
            place = {r: (k, coef) for k, dim in enumerate(d) for coef, r in dim}
            self._place[t] = place if len(place) == sum(len(dim) for dim in d) else None
        self._dense = {t: all(c == 1 for dim in d for c, _ in dim) for t, d in self._dims.items()}
        self._hard = {t: frozenset(r for r in self._ranks[t]
                                   if all(dim == ((1, r),) for dim in d if any(rr == r for _, rr in dim)))
                      for t, d in self._dims.items()}

    def evaluate(self, nest) -> tuple:
        """(cycles, energy pJ) of a complete mapping (:func:`sim.nest.evaluate`)."""
        got = count_nest(self.hierarchy, self.shape, nest)
        return got.cycles, got.energy_pj

    # ------------------------------------------------------------------ floors

    def _words(self, t, ext) -> int:
        return math.prod(dim_width(dim, ext) for dim in self._dims[t])

    def _partition(self, t, spatial, i) -> int:
        """Distinct words of ``t`` one instance of level ``i`` holds over the run: every rank
        whole but for the ``spatial`` loops above the level."""
        spread = tuple((lp.rank, lp.factor) for lp in spatial if lp.level < i and lp.factor > 1)
        if (t, spread) not in self._parts:  # remembered by all it depends on: few per search
            ext = dict(self.shape.ranks)
            for r, f in spread:
                ext[r] //= f
            self._parts[(t, spread)] = self._words(t, ext)
        return self._parts[(t, spread)]

    def _fetches(self, t, above, c, assigned_from, ordered, open_ranks=frozenset(), prefix=None) -> int:
        """Floor of the whole-tile fetches of ``t`` at level ``c`` (module docstring);
        ``above``: the temporal loops above ``c`` that run more than once, outermost first."""
        hard, rel = self._hard[t], self._ranks[t]
        deep = [lp.level for lp in above if lp.rank in hard]
        if not deep:
            return 1
        d = max(deep)
        # an open rank's part in the stand-in may still go to level d, inside its hard loops
        movable = open_ranks if d == assigned_from > 0 else frozenset()

        def counts(lp):
            return lp.rank in hard or (lp.rank not in rel and not (lp.level == 0 and lp.rank in movable))

        n = math.prod(lp.factor for lp in above if lp.level < d and counts(lp))
        at_d = [lp for lp in above if lp.level == d]
        if d in ordered and not (d == 0 and assigned_from > 0):
            m = len(at_d)
        elif prefix is not None and prefix[0] == d:
            m = prefix[1]
        else:
            m = 0
        head, rest = at_d[:m], at_d[m:]
        if any(lp.rank in hard for lp in rest):  # the innermost hard loop is in the open part
            return n * math.prod(lp.factor for lp in head if counts(lp)) * \
                math.prod(lp.factor for lp in rest if lp.rank in hard)
        last = max(k for k, lp in enumerate(head) if lp.rank in hard)
        return n * math.prod(lp.factor for lp in head[: last + 1] if counts(lp))

    def _exact(self, t, nest, loops, stride, last) -> dict:
        """The model's counts of ``t`` (:func:`sim.nest.tensor_counts`) at the levels down to
        ``last``: the levels below it are made to bypass ``t``, which changes no count above
        ``last`` and spares counting the copies below it."""
        tensors = frozenset(self.shape.tensors)
        levels = tuple(lm if i <= last else replace(lm, keep=(tensors if lm.keep is None else lm.keep) - {t})
                       for i, lm in enumerate(nest.levels))
        return tensor_counts(self.shape, NestMapping(levels), t, self.n, loops, stride)

    def _tensor_floor(self, t, nest, loops, stride, steps, assigned_from, ordered, precise, exts, open_ranks,
                      prefix, tls, aboves, stride_of, vary) -> list:
        """Per temporal loop list of ``tls`` (each outermost first, one reordering of ``nest``'s
        loops at level ``vary``; None: one list): level index -> [reads, fills, updates] floors
        per instance of one tensor. Only the whole-tile fetches depend on the order; the rest is
        counted once for all of them."""
        sp_at = [k for k, lp in enumerate(loops) if lp.kind != "temporal"]
        sp = [loops[k] for k in sp_at]
        n = self.n
        kept = keeps(nest, t)
        rw = t == self.shape.output
        window = self._window[t]
        dense = self._dense[t] and not rw
        pers = [{i: [0, 0, 0] for i in kept} for _ in tls]
        chain = kept + [n]
        settled = [c for c in chain[1:-1] if assigned_from == 0 and all(k in ordered for k in range(c))]
        exact = self._exact(t, nest, loops, stride, settled[-1]) if precise and window and settled else {}
        for p, c in zip(chain, chain[1:]):
            if c in settled and exact:
                for per in pers:
                    per[c][1] = exact[c][1]
                    per[p][0], per[p][2] = exact[p][0], exact[p][2]
                continue
            spread = [k for k in sp_at if p <= loops[k].level < c]
            copies = _copies(self._dims[t], tuple((loops[k].rank, loops[k].factor, loops[k].level, loops[k].kind,
                                                   stride[k]) for k in spread if loops[k].factor > 1))
            if c == n:
                all_deltas = [steps] * len(tls)
            elif rw and window:
                continue  # outputs with a sliding window: no floor but zero
            else:
                floor_words = self._partition(t, sp, c) if not window or dense else 0
                if c < assigned_from:
                    all_deltas = [floor_words] * len(tls)
                else:
                    words = self._words(t, exts[c])
                    # the orders differ only at level vary: below c, a floor that reads no
                    # order of that level is the same for all of them
                    hard_at = max((lp.level for lp in aboves[0][c] if lp.rank in self._hard[t]), default=-1)
                    some = aboves if vary is not None and vary < c and hard_at == vary else aboves[:1]
                    all_deltas = [max(words * self._fetches(t, above[c], c, assigned_from, ordered, open_ranks, prefix),
                                      floor_words) for above in some]
                    if window and self._place[t] is not None:
                        widths = tuple(dim_width(dim, exts[c]) for dim in self._dims[t])
                        cuts = sweep_cuts(aboves[0][c], c, assigned_from, ordered, prefix)
                        cut_at_vary = vary is not None and vary < c and (
                            vary in ordered or (prefix is not None and prefix[0] == vary))
                        if cut_at_vary and len(some) < len(aboves):
                            all_deltas = all_deltas * len(aboves)
                        some = aboves if cut_at_vary else aboves[:len(all_deltas)]
                        all_deltas = [max(dl, sweep_floor(self._place[t], above[c], widths, stride_of, cuts,
                                                          open_ranks)) for dl, above in zip(all_deltas, some)]
                    if len(all_deltas) < len(tls):
                        all_deltas = all_deltas * len(tls)
            part_c = self._partition(t, sp, c) if rw and c < n else 0
            part_p = self._partition(t, sp, p) if rw else 0
            for per, deltas in zip(pers, all_deltas):
                served = deltas * copies
                if c < n:
                    per[c][1] = deltas - part_c if rw else deltas
                if rw:
                    per[p][2] = served
                    per[p][0] = served - part_p
                else:
                    per[p][0] = served
        return pers

    def bound(self, nest, assigned_from: int = 0, ordered=None, precise: bool = False,
              open_ranks=frozenset(), prefix=None, worth=None) -> tuple:
        """(cycles, energy pJ) no completion of the partial mapping ``nest`` goes below.

        Parameters
        ----------
        nest : mappings.nest.NestMapping
            Spatial factors and keeps chosen; temporal factors of levels ``assigned_from`` and
            below chosen, the rest of each rank at level 0 (see the module docstring).
        assigned_from : int
            First level whose temporal factors are chosen (0: all are).
        ordered : collection of int or None
            Levels whose loop order is chosen; None: every level.
        open_ranks : collection of str
            Ranks whose factor at level ``assigned_from`` is still open: level
            ``assigned_from`` holds 1 for them and the stand-in their whole rest, any part of
            which may still come down to that level.
        prefix : (int, int) or None
            ``(level, m)``: that level (not in ``ordered``) has its ``m`` outermost loops in
            their chosen order, the others open below them.
        precise : bool
            Count a sliding-window tensor exactly (the model's own rules) between the levels
            whose every loop above is chosen: a tighter floor, as costly as the model there.
        worth : callable or None
            ``worth(cycles, energy_pj)``: whether a floor is low enough to be worth raising by
            what the open loop orders cost (:mod:`sim.nest_orders`); None: always.
        """
        ordered = set(range(self.n)) if ordered is None else set(ordered)
        loops = nest.loops()
        tl = [lp for lp in loops if lp.kind == "temporal"]
        return self._floors(nest, loops, [tl], assigned_from, ordered, precise, frozenset(open_ranks), prefix,
                            worth)[0]

    def bound_orders(self, nest, level: int, orders, assigned_from: int = 0, ordered=(), prefix=None,
                     worth=None) -> list:
        """:meth:`bound` of ``nest`` with level ``level``'s temporal loops in each of ``orders``
        (ranks, outermost first; each a reordering of that level's loops), in one pass: the
        counts that do not depend on the order are taken once for all of them.

        Returns
        -------
        list of (cycles, energy pJ)
            One per order, as :meth:`bound` of the reordered mapping returns it.
        """
        ordered = set(ordered)
        loops = nest.loops()
        factor = {lp.rank: lp.factor for lp in loops if lp.kind == "temporal" and lp.level == level}
        outer = [lp for lp in loops if lp.kind == "temporal" and lp.level < level]
        inner = [lp for lp in loops if lp.kind == "temporal" and lp.level > level]
        tls = [outer + [Loop(r, factor[r], level, "temporal") for r in order] + inner for order in orders]
        return self._floors(nest, loops, tls, assigned_from, ordered, False, frozenset(), prefix, worth, level)

    def count_floors(self, nest, assigned_from: int = 0, ordered=None, precise: bool = False,
                     open_ranks=frozenset(), prefix=None) -> list:
        """The floors :meth:`bound` prices: per level (outermost first), tensor -> [reads, fills,
        updates] words per instance, no more than the model counts for any completion of
        ``nest`` (arguments as for :meth:`bound`)."""
        ordered = set(range(self.n)) if ordered is None else set(ordered)
        loops = nest.loops()
        tl = [lp for lp in loops if lp.kind == "temporal"]
        exts = [nest.extents(i, loops) for i in range(self.n)]
        return self._counts(nest, loops, strides(loops), exts, [tl], assigned_from, ordered, precise,
                            frozenset(open_ranks), prefix)[0]

    def _floors(self, nest, loops, tls, assigned_from, ordered, precise, open_ranks, prefix, worth=None,
                vary=None) -> list:
        """(cycles, energy pJ) floors of ``nest`` with its temporal loops in each order of ``tls``."""
        stride = strides(loops)  # the same for every order in tls: no rank loops twice in a level's temporal loops
        exts = [nest.extents(i, loops) for i in range(self.n)]
        pers = self._counts(nest, loops, stride, exts, tls, assigned_from, ordered, precise, open_ranks, prefix,
                            vary)
        steps = math.prod(lp.factor for lp in loops if not lp.spatial)
        inst = [1] * self.n  # instances of each level in use: spatial factors above it
        for lp in loops:
            if lp.kind != "temporal":
                for i in range(lp.level + 1, self.n):
                    inst[i] *= lp.factor
        priced = [self._priced(per, inst, steps) for per in pers]
        if worth is not None and not any(worth(c, e) for c, e in priced):
            return priced  # too high already: no need to raise it
        extra = self._conflicts(nest, loops, stride, exts, inst, assigned_from, ordered, open_ranks, prefix)
        return [(c, e + extra * (1 - _SLACK)) for c, e in priced] if extra else priced

    def _conflicts(self, nest, loops, stride, exts, inst, assigned_from, ordered, open_ranks, prefix) -> float:
        """pJ that the open loop orders add to the per-tensor floors whatever they become
        (:func:`sim.nest_orders.order_extra_pj`), summed over the levels whose whole order is
        open and whose factors are all chosen."""
        extra = 0.0
        temporal = [lp for lp in loops if lp.kind == "temporal" and lp.factor > 1]
        sp = [lp for lp in loops if lp.kind != "temporal"]
        for d in range(assigned_from, self.n):
            # the stand-in is level 0's own loops once every level below it is chosen
            if d in ordered or (prefix is not None and prefix[0] == d) or \
                    (d == 0 and (assigned_from > 1 or (assigned_from == 1 and open_ranks))):
                continue
            # an open rank's rest may come down to level d and run inside: only the tensors
            # that have the rank are sure to fetch again for it
            movable = open_ranks if d == assigned_from > 0 else frozenset()
            at_d = [lp for lp in temporal if lp.level == d]
            if len(at_d) < 2:
                continue
            terms = []
            for t in self.shape.tensors:
                if not self._window[t]:
                    terms += self._conflict_terms(t, nest, loops, stride, exts, temporal, sp, d, at_d, inst, movable)
            extra += order_extra_pj([lp.factor for lp in at_d], terms)
        return extra

    def _conflict_terms(self, t, nest, loops, stride, exts, temporal, sp, d, at_d, inst, movable) -> list:
        """The terms of :func:`sim.nest_orders.order_extra_pj` of tensor ``t`` (no sliding
        window) for the levels keeping it whose fetches level ``d``'s order decides; the
        stand-in of the ``movable`` ranks ``t`` does not have is left out, as its floor does."""
        hard, rw = self._hard[t], t == self.shape.output
        chain = keeps(nest, t)
        n_above = math.prod(lp.factor for lp in temporal if lp.level < d and
                            not (lp.level == 0 and lp.rank in movable and lp.rank not in hard))
        terms = []
        for p, c in zip(chain, chain[1:]):
            if c <= d or max((lp.level for lp in temporal if lp.level < c and lp.rank in hard), default=-1) != d:
                continue
            base = self._words(t, exts[c]) * n_above
            floor_words = max(base * math.prod(lp.factor for lp in at_d if lp.rank in hard),
                              self._partition(t, sp, c))
            spread = [k for k, lp in enumerate(loops) if lp.kind != "temporal" and p <= lp.level < c]
            copies = _copies(self._dims[t], tuple((loops[k].rank, loops[k].factor, loops[k].level, loops[k].kind,
                                                   stride[k]) for k in spread if loops[k].factor > 1))
            parent, child = self.hierarchy.levels[p], self.hierarchy.levels[c]
            prices = [(child.energy("fill") * inst[c], 1, child.block_words),
                      (parent.energy("read") * inst[p], copies, parent.block_words)]
            if rw:
                prices.append((parent.energy("update") * inst[p], copies, parent.block_words))
            terms.append(([lp.rank in hard for lp in at_d], base, floor_words, [q for q in prices if q[0]]))
        return terms

    def _counts(self, nest, loops, stride, exts, tls, assigned_from, ordered, precise, open_ranks, prefix,
                vary=None) -> list:
        """Per order of ``tls`` (reorderings of level ``vary``'s loops; None: one order): the
        count floors of :meth:`count_floors`."""
        steps = math.prod(lp.factor for lp in loops if not lp.spatial)
        pers = [[dict() for _ in range(self.n)] for _ in tls]
        # per order, per level: the temporal loops above it that run more than once
        aboves = [[[lp for lp in tl if lp.level < c and lp.factor > 1] for c in range(self.n)] for tl in tls]
        stride_of = {(lp.level, lp.rank): st for lp, st in zip(loops, stride) if lp.kind == "temporal"}
        for t in self.shape.tensors:
            floors = self._tensor_floor(t, nest, loops, stride, steps, assigned_from, ordered, precise, exts,
                                        open_ranks, prefix, tls, aboves, stride_of, vary)
            for per, tensor_per in zip(pers, floors):
                for i, rfu in tensor_per.items():
                    per[i][t] = rfu
        return pers

    def _priced(self, per, inst, steps) -> tuple:
        """(cycles, energy pJ) of per-instance floors ``per`` (level -> tensor -> [r, f, u]),
        priced by the model's own rule (:func:`sim.nest.price_counts`)."""
        cycles, _, energy = price_counts(self.hierarchy, per, inst, steps, self.shape.points)
        return cycles, sum(energy.values()) * (1 - _SLACK)
