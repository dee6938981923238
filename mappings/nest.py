"""Per-Einsum mappings onto a memory hierarchy of any depth (Timeloop's mapping class).

In hardware terms: for every storage level of an :class:`arch.hierarchy.Hierarchy`, which loops
walk over that level's tiles in time (temporal factors and their order), which ranks are spread
over the copies of the level below (spatial factors over the fan-out's X and Y), and which
tensors the level keeps (the others bypass it: their traffic goes straight between the nearest
kept levels above and below).

API
---
``LevelMapping(level, temporal, spatial_x=(), spatial_y=(), keep=None)``
    One storage level. ``temporal``: ``((rank, factor), ...)`` OUTERMOST FIRST (Timeloop's
    permutations list innermost first; readers reverse them). ``spatial_x`` / ``spatial_y``:
    ``((rank, factor), ...)`` spread over the fan-out below this level (to the next storage
    level, or to the compute units under the innermost level). ``keep``: frozenset of tensor
    names kept here, None for all.
``NestMapping(levels)``
    One ``LevelMapping`` per storage level, outermost first, in the hierarchy's order.
``NestMapping.loops()``
    Every loop as a :class:`Loop` (rank, factor, level index, kind ``temporal``/``x``/``y``),
    outermost first: level 0's temporal loops, then its spatial loops, then level 1's, ...
``NestMapping.extents(i)``
    rank -> extent of the tile of storage level ``i`` (the loops of level ``i`` and below).
``tile_words(shape, tensor, extents)``
    Words of a tensor's tile (affine indices: a P-tile and an R-tile of ``r+p`` are P+R-1 wide).
``keeps(nest, tensor)``
    Indices of the storage levels that keep ``tensor``, outermost first.
``check(nest, shape, hierarchy)``
    Raises :class:`arch.errors.MappingError` with one line naming the level, tensor or rank and
    the numbers: factors not multiplying to a rank's size, spatial factors over a fan-out,
    tiles over a level's capacity, a bypass leaving a tensor no home, unknown names.

The counting model that runs a ``NestMapping`` is :mod:`sim.nest`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from arch.errors import MappingError

KINDS = ("temporal", "x", "y")


def _factors(pairs) -> tuple:
    out = tuple((str(r), int(f)) for r, f in pairs)
    for r, f in out:
        if f < 1:
            raise MappingError(f"factor of rank {r} must be a positive integer, not {f}")
    return out


@dataclass(frozen=True)
class Loop:
    """One loop of the flattened nest.

    Attributes
    ----------
    rank : str
    factor : int
        Trip count.
    level : int
        Index of the storage level the loop belongs to (0 = outermost).
    kind : str
        ``temporal``, ``x`` or ``y`` (spatial over the fan-out below the level).
    """

    rank: str
    factor: int
    level: int
    kind: str

    @property
    def spatial(self) -> bool:
        return self.kind != "temporal"


@dataclass(frozen=True)
class LevelMapping:
    """The loops and the kept tensors of one storage level (see the module's API summary)."""

    level: str
    temporal: tuple = ()
    spatial_x: tuple = ()
    spatial_y: tuple = ()
    keep: frozenset | None = None

    def __post_init__(self):
        object.__setattr__(self, "temporal", _factors(self.temporal))
        object.__setattr__(self, "spatial_x", _factors(self.spatial_x))
        object.__setattr__(self, "spatial_y", _factors(self.spatial_y))
        if self.keep is not None:
            object.__setattr__(self, "keep", frozenset(self.keep))

    def keeps(self, tensor: str) -> bool:
        return self.keep is None or tensor in self.keep


@dataclass(frozen=True)
class NestMapping:
    """One :class:`LevelMapping` per storage level, outermost first."""

    levels: tuple

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(self.levels))

    def loops(self) -> list:
        """Every loop, outermost first; trip-count-1 loops included."""
        out = []
        for i, lm in enumerate(self.levels):
            for kind, pairs in zip(KINDS, (lm.temporal, lm.spatial_x, lm.spatial_y)):
                out += [Loop(r, f, i, kind) for r, f in pairs]
        return out

    def extents(self, i: int, loops=None) -> dict:
        """rank -> extent of storage level ``i``'s tile: loops of level ``i`` and below
        (``loops``: :meth:`loops`, when the caller already has them)."""
        ext = {}
        for lp in loops if loops is not None else self.loops():
            if lp.level >= i:
                ext[lp.rank] = ext.get(lp.rank, 1) * lp.factor
        return ext


def dim_width(dim, extents) -> int:
    """Width of one tensor dimension ``sum(c * rank)`` over rank extents: ``sum(c*(e-1)) + 1``."""
    return sum(c * (extents.get(r, 1) - 1) for c, r in dim) + 1


def tile_words(shape, tensor: str, extents) -> int:
    """Words of ``tensor``'s tile when each rank spans ``extents[rank]`` (missing: 1)."""
    return math.prod(dim_width(dim, extents) for dim in shape.projection(tensor))


def keeps(nest: NestMapping, tensor: str) -> list:
    """Indices of the storage levels keeping ``tensor``, outermost first."""
    return [i for i, lm in enumerate(nest.levels) if lm.keeps(tensor)]


def check(nest: NestMapping, shape, hierarchy) -> None:
    """Refuse a mapping that cannot run; one line naming the level, tensor or rank."""
    names = hierarchy.names
    if tuple(lm.level for lm in nest.levels) != names:
        got = ", ".join(lm.level for lm in nest.levels)
        raise MappingError(f"mapping levels must be {', '.join(names)} (outermost first), not {got}")
    for lm in nest.levels:
        for r, _ in (*lm.temporal, *lm.spatial_x, *lm.spatial_y):
            if r not in shape.ranks:
                raise MappingError(f"level {lm.level}: unknown rank {r!r} (ranks: {', '.join(shape.ranks)})")
        for t in sorted(lm.keep or ()):
            if t not in shape.tensors:
                raise MappingError(f"level {lm.level}: keeps unknown tensor {t!r} (tensors: {', '.join(shape.tensors)})")
    loops = nest.loops()
    for r, size in shape.ranks.items():
        parts = [(lp, lp.factor) for lp in loops if lp.rank == r and lp.factor > 1]
        got = math.prod(f for _, f in parts)
        if got != size:
            detail = " x ".join(f"{names[lp.level]} {f}" for lp, f in parts) or "none"
            raise MappingError(f"rank {r}: factors multiply to {got} ({detail}), not its size {size}")
    for i, lm in enumerate(nest.levels):
        fx, fy = hierarchy.child_fanout(i)
        below = names[i + 1] if i + 1 < len(names) else hierarchy.compute.name
        for axis, pairs, limit in (("X", lm.spatial_x, fx), ("Y", lm.spatial_y, fy)):
            got = math.prod(f for _, f in pairs)
            if got > limit:
                raise MappingError(f"level {lm.level}: spatial {axis} factors multiply to {got}, over the "
                                   f"fan-out of {limit} to {below}")
    for t in shape.tensors:
        if not nest.levels[0].keeps(t):
            raise MappingError(f"level {names[0]}: bypasses {t}, which then has no home (the outermost level "
                               f"must keep every tensor)")
    for i, lm in enumerate(nest.levels):
        cap = hierarchy.levels[i].size_words
        if cap is None:
            continue
        ext = nest.extents(i, loops)
        need = {t: tile_words(shape, t, ext) for t in shape.tensors if lm.keeps(t)}
        if sum(need.values()) > cap:
            detail = ", ".join(f"{t} {w}" for t, w in need.items())
            raise MappingError(f"level {lm.level}: tiles need {sum(need.values())} words ({detail}), over its "
                               f"capacity of {cap}")
