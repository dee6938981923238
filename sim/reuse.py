"""Tile reuse in a loop nest: what one buffer must fetch, and what a fan-out shares.

In hardware terms: a buffer holds one tile of a tensor while the loops above it run. When a
loop above advances, the tile moves; only the part not already held is fetched (the *delta*).
A loop over a rank the tensor does not depend on leaves the tile in place (no fetch), unless a
loop over a rank it does depend on sits inside it, whose wrap-around moves the tile back
(a refetch). A tile sliding along an affine index (a convolution input ``p+r`` as ``r``
advances) fetches only the new edge.

The rules are Timeloop's (its axis-aligned hyper-rectangle deltas): a tile that moved along one
tensor dimension, overlapping its previous position, fetches the uncovered slab, provided it moves
in the same direction as the previous partial move (or there was none); a move along two or more
dimensions, a move with no overlap, or a move against the previous direction fetches the whole
tile. :func:`delta_counts` evaluates this over every step of the loops above a buffer without
enumerating them: a run of a loop is the same for the same entry state, so each (loop, state)
is solved once and repeated runs that return to their entry state are multiplied out.

:func:`union_words` is the multicast / spatial-reduction rule: the copies under a fan-out fetch
translated copies of the same delta at the same step; the parent moves their union once.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np


def strides(loops) -> list:
    """Per loop: how far its rank's index moves when the loop advances by one (the product of
    the factors of the same rank in the loops inside it)."""
    out = [1] * len(loops)
    seen = {}
    for k in range(len(loops) - 1, -1, -1):
        r = loops[k].rank
        out[k] = seen.get(r, 1)
        seen[r] = out[k] * loops[k].factor
    return out


def carry_offset(dims, loops, stride, k, above) -> tuple:
    """Offset of a tile along each tensor dimension when loop ``k`` advances and the loops of
    ``above`` inside it wrap back to 0; ``dims`` is the tensor's projection."""
    move = {loops[k].rank: stride[k]}
    for j in above:
        if j > k:
            r = loops[j].rank
            move[r] = move.get(r, 0) - (loops[j].factor - 1) * stride[j]
    return tuple(sum(c * move.get(r, 0) for c, r in dim) for dim in dims)


def _step(offset, widths, state):
    """One move of a tile by ``offset``: (delta box widths or None, next state)."""
    moved = [d for d, o in enumerate(offset) if o != 0]
    if not moved:
        return None, None
    if len(moved) > 1 or any(abs(offset[d]) >= widths[d] for d in moved):
        return tuple(widths), None
    d = moved[0]
    sign = 1 if offset[d] > 0 else -1
    if state is not None and state != (d, sign):
        return tuple(widths), None
    delta = list(widths)
    delta[d] = abs(offset[d])
    return tuple(delta), (d, sign)


def delta_counts(dims, widths, loops, stride, above) -> Counter:
    """Delta boxes fetched by one buffer instance over the whole run, with their counts.

    Parameters
    ----------
    dims : tuple
        The tensor's projection (per dimension, ``(coefficient, rank)`` terms).
    widths : tuple of int
        The tile's width along each tensor dimension (words).
    loops, stride : list
        The flattened nest (:meth:`mappings.nest.NestMapping.loops`) and :func:`strides`.
    above : list of int
        Indices into ``loops`` of the temporal loops above the buffer, outermost first.

    Returns
    -------
    Counter
        delta box widths -> how many times such a delta is fetched, the first fill included.
    """
    live = [k for k in above if loops[k].factor > 1]
    offsets = {k: carry_offset(dims, loops, stride, k, live) for k in live}
    memo = {}

    def run(m, state):
        if m == len(live):
            return Counter(), state
        key = (m, state)
        if key in memo:
            return memo[key]
        acc, s = run(m + 1, state)
        acc = Counter(acc)
        left = loops[live[m]].factor - 1
        while left:
            before = s
            box, s = _step(offsets[live[m]], widths, s)
            body, s = run(m + 1, s)
            body = Counter(body)
            if box is not None:
                body[box] += 1
            left -= 1
            if s == before:  # the remaining runs repeat this one exactly
                for b, n in body.items():
                    acc[b] += n * (left + 1)
                left = 0
            else:
                acc.update(body)
        memo[key] = (acc, s)
        return acc, s

    out, _ = run(0, None)
    out = Counter(out)
    out[tuple(widths)] += 1
    return out


def box_words(widths) -> int:
    return math.prod(widths)


def spread_offsets(dims, loops, stride, spread) -> list:
    """Offsets (per tensor dimension) of the copies under a fan-out: one per combination of
    the spatial loops ``spread`` (indices into ``loops``)."""
    offs = [tuple(0 for _ in dims)]
    for k in spread:
        r, f, s = loops[k].rank, loops[k].factor, stride[k]
        step = tuple(sum(c * s for c, rr in dim if rr == r) for dim in dims)
        offs = [tuple(o + i * st for o, st in zip(off, step)) for off in offs for i in range(f)]
    return offs


def _interval_union(starts, width) -> int:
    total, end = 0, None
    for s in sorted(set(starts)):
        lo = s if end is None else max(s, end)
        hi = s + width
        if hi > lo:
            total += hi - lo
        end = hi if end is None else max(end, hi)
    return total


def union_words(widths, offsets) -> int:
    """Words in the union of copies of a box of ``widths`` translated by ``offsets``."""
    distinct = set(offsets)
    if len(distinct) == 1:
        return box_words(widths)
    per_dim = [sorted({o[d] for o in distinct}) for d in range(len(widths))]
    if len(distinct) == math.prod(len(v) for v in per_dim):
        return math.prod(_interval_union(v, w) for v, w in zip(per_dim, widths))
    grid = np.stack(np.meshgrid(*[np.arange(w) for w in widths], indexing="ij"), -1).reshape(-1, len(widths))
    pts = np.concatenate([grid + np.asarray(o) for o in distinct])
    return int(len(np.unique(pts, axis=0)))
