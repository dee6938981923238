"""Search of fused mappings: a whole cascade in one group, its Einsums bound across arrays and
pipelined in two stages.

In hardware terms the search decides what FuseMax's authors decided by hand: which array runs
each Einsum, how many queries (or rows) one tile holds, which Einsums run one tile behind the
others so that two arrays overlap, and which passed tensors stay in the PEs' registers. The
space and the way it is walked:

* **loops**: the ranks every Einsum has (batch, heads, queries), one element at a time except
  the largest, whose tile is searched over the powers of two from the largest array dimension
  up; iterative ranks innermost, one step per iteration;
* **spatial**: per Einsum and unit, the assignment of ranks to array dimensions that takes the
  fewest PE steps for its tile (closed form; ties to the first in enumeration order);
* **stages**: the Einsums after a split point of the cascade order run one stage behind
  (every split point is tried, with two slots; tiles first at a middle split, then splits at
  the best tile);
* **binding**: each Einsum starts on the unit that computes its tile fastest alone; then one
  Einsum, or one recurrence (Einsums that feed each other across steps), at a time moves to
  another unit with its operators while that lowers the group's cost (a local search,
  repeated until no move helps);
* **keep/bypass** (a rule, not searched): a tensor produced and read on one unit whose per-PE
  storage holds two of its tiles stays in the registers; everything else is kept in the buffer.

Splits and tiles are searched again after the binding settles. The search never reads mapping
files. ``cost(cascade, shape, mapping, spec, einsum) -> (cycles, energy_pj)`` prices the group
(:func:`sim.cascade.cost_group`).
"""

from __future__ import annotations

import itertools
import math

from arch.errors import MappingError, SimulationError
from mappings.cascade_mapping import CascadeMapping, Group, Placement
from mappings.cascade_plan import recurrences
from mappings.mapper import objective_key
from mappings.mapping import shapes_from_cascade


class FusedSearch:
    """One search over the fused mappings of ``cascade`` at ``shape`` (module docstring)."""

    MAX_SWEEPS = 4

    def __init__(self, cascade, shape, spec, cost, objective="latency"):
        self.cascade, self.shape, self.spec, self.cost, self.objective = cascade, shape, spec, cost, objective
        self.sizes = cascade.rank_sizes(shape)
        self.shapes = shapes_from_cascade(cascade, shape)
        self.names = [e.name for e in cascade.einsums]
        self.iterative = [it.var.upper() for it in cascade.space.iterations]
        self.buffer = next((lv for lv, s in spec.storage.items() if s.per_pe_of is None), None)
        self.evaluated = self.rejected = 0
        self.units = {n: [u for u, cu in spec.compute.items()
                          if all(cu.supports(op) for op, k in self.shapes[n].op_counts.items() if k)]
                      for n in self.names}

    # -- the pieces of a candidate -----------------------------------------------------------
    def tile_options(self) -> list:
        """Shared loops: common ranks at 1, the largest in tiles, iterative ranks innermost."""
        ranks = [self.shapes[n].ranks for n in self.names]
        common = [r for r in self.cascade.ranks if all(r in rs for rs in ranks) and r not in self.iterative]
        if not common:
            return [()]
        big = max(common, key=lambda r: self.sizes[r])
        inner = tuple((r, 1) for r in self.iterative if any(r in rs for rs in ranks))
        t = max(max(cu.shape) for cu in self.spec.compute.values())
        out = []
        while True:
            t = min(t, self.sizes[big])
            out.append(tuple((r, t if r == big else 1) for r in common) + inner)
            if t >= self.sizes[big]:
                return out
            t *= 2

    def spatial(self, name, unit, loops) -> tuple:
        """The spatial assignment of ``name`` on ``unit`` with the fewest PE steps per tile."""
        shape, cu = self.shapes[name], self.spec.compute[unit]
        tile = dict(loops)
        work = {r: tile.get(r, n) for r, n in shape.ranks.items()}
        ranks = [r for r in shape.ranks if r not in self.iterative]
        best = None
        for pick in itertools.product([None, *ranks], repeat=cu.ndim):
            used = [r for r in pick if r is not None]
            if len(set(used)) != len(used):
                continue
            sp = tuple((r, min(d, work[r])) for r, d in zip(pick, cu.shape) if r is not None)
            f = dict(sp)
            steps = math.prod(math.ceil(w / f.get(r, 1)) for r, w in work.items())
            if best is None or steps < best[0]:
                best = (steps, sp)
        return best[1], best[0]

    def mapping(self, binding, loops, split) -> CascadeMapping:
        placements = []
        for i, n in enumerate(self.names):
            placements.append(Placement(n, binding[n], self.spatial(n, binding[n], loops)[0],
                                        bypass={self.buffer: self.bypassed(n, binding, loops)} if self.buffer else {}))
        stages = {n: 1 for n in self.names[split:]}
        group = Group(tuple(self.names), self.buffer, loops, 2, stages)
        return CascadeMapping(tuple(placements), (group,), self.cascade.name)

    def bypassed(self, name, binding, loops=()) -> tuple:
        """Tensors of ``name`` that stay in the registers: produced on a unit with per-PE
        storage and read only by Einsums on that unit (a result nobody reads streams out)."""
        e = self.cascade.einsum(name)
        return tuple(x for x in dict.fromkeys((*e.input_tensors, name))
                     if x in binding and self._in_registers(x, binding, loops))

    def _in_registers(self, x, binding, loops) -> bool:
        """Produced and read on one unit whose per-PE level holds two tiles of it."""
        unit = binding[x]
        levels = [s for s in self.spec.storage.values() if s.per_pe_of == unit]
        if not levels:
            return False
        shape, tile = self.shapes[x], dict(loops)
        words = shape.words(x, {r: tile.get(r, n) for r, n in shape.ranks.items()})
        per_pe = math.ceil(2 * words / self.spec.compute[unit].pes)
        if any(per_pe * lv.word_bytes > lv.size_bytes for lv in levels):
            return False
        return all(binding[c] == unit for c in self.names if c != x and x in self.cascade.einsum(c).input_tensors)

    def evaluate(self, binding, loops, split):
        m = self.mapping(binding, loops, split)
        try:
            c, e = self.cost(self.cascade, self.shape, m, self.spec, self.names[0])
        except (MappingError, SimulationError):  # does not fit, or its issue order deadlocks
            self.rejected += 1
            return None
        self.evaluated += 1
        return objective_key(self.objective, c, e), m, (c, e)

    # -- the walk --------------------------------------------------------------------------
    def layout(self, binding, split0: int):
        """Best (result, loops, split) for a binding: every tile option at split ``split0``,
        then every split point at the best tile."""
        best = None
        for loops in self.tile_options():
            r = self.evaluate(binding, loops, split0)
            if r is not None and (best is None or r[0] < best[0][0]):
                best = (r, loops, split0)
        loops_options = [best[1]] if best else self.tile_options()
        for loops in loops_options:
            for split in range(len(self.names) + 1):
                r = self.evaluate(binding, loops, split)
                if r is not None and (best is None or r[0] < best[0][0]):
                    best = (r, loops, split)
        return best

    def run(self):
        """(mapping, cycles, energy_pj) of the best fused mapping found, or None."""
        if self.buffer is None or len(self.names) < 2 or any(not u for u in self.units.values()):
            return None
        loops0 = self.tile_options()[0]
        binding = {n: min(us, key=lambda u: self.spatial(n, u, loops0)[1] *
                          self._cpp(n, u)) for n, us in self.units.items()}
        found = self.layout(binding, len(self.names) // 2)
        if found is None:
            return None
        (key, m, cost), loops, split = found
        moves = [(n,) for n in self.names] + [g for g in recurrences(self.cascade) if len(g) > 1]
        for _ in range(self.MAX_SWEEPS):
            moved = False
            for group in moves:
                for u in [u for u in self.units[group[0]] if all(u in self.units[n] for n in group)]:
                    if all(binding[n] == u for n in group):
                        continue
                    trial = {**binding, **{n: u for n in group}}
                    r = self.evaluate(trial, loops, split)
                    if r is not None and r[0] < key:
                        binding, (key, m, cost), moved = trial, r, True
            if not moved:
                break
        again = self.layout(binding, split)
        if again is not None and again[0][0] < key:
            (key, m, cost), _, _ = again
        return m, cost[0], cost[1]

    def _cpp(self, name, unit) -> float:
        """Cycles per iteration point of ``name`` on ``unit`` (its operators' issue cycles)."""
        shape, cu = self.shapes[name], self.spec.compute[unit]
        return sum(k * cu.operators[op].cycles for op, k in shape.op_counts.items() if k) / max(shape.points, 1)
