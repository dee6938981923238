"""Tile reuse in a loop nest: what one buffer must fetch, and what a fan-out shares.

In hardware terms: a buffer holds one tile of a tensor while the loops above it run. When a
loop above advances, the tile moves; only the part not already held is fetched (the *delta*).
A loop over a rank the tensor does not depend on leaves the tile in place (no fetch), unless a
loop over a rank it does depend on sits inside it, whose wrap-around moves the tile back
(a refetch). A tile sliding along an affine index (a convolution input ``p+r`` as ``r``
advances) fetches only the new edge.

The rules are those of Timeloop's model as it produced the reference outputs pinned in
``tests/sim/test_nest.py`` (hyper-rectangle point sets, "reset on stride change"): the tile's
translation since the previous step is compared with the last one remembered. With none
remembered, or the same one again, only the words not in the previous tile are fetched and the
translation is remembered (a standing still, zero, translation included); a different
translation fetches the whole tile and forgets. So a window sliding forward keeps its overlap,
a window sent back by an outer loop is fetched whole, and so is a window that starts to slide
after standing still across an inner loop. :func:`delta_counts` evaluates this over every step
of the loops above a buffer without enumerating them: a run of a loop is the same for the same
entry state, so each (loop, state) is solved once, and repeated runs that return to their entry
state are multiplied out.

:func:`distinct_copies` is the multicast / spatial-reduction rule: copies under a fan-out whose
deltas are identical share one access of the level above; the comparison is made within each
spatial loop group (one mesh axis of one level), as Timeloop compares per fan-out.
"""

from __future__ import annotations

import math
from collections import Counter


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
    if state is not None and offset != state:
        return tuple(widths), None
    overlap = math.prod(max(0, w - abs(o)) for w, o in zip(widths, offset))
    fetched = math.prod(widths) - overlap
    if fetched == 0:
        return None, offset
    moved = [d for d, o in enumerate(offset) if o != 0]
    if len(moved) == 1 and overlap:
        delta = list(widths)
        delta[moved[0]] = abs(offset[moved[0]])
        return tuple(delta), offset
    return ("words", fetched), offset


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


def box_words(box) -> int:
    """Words of a delta: a box of widths, or ``("words", n)`` for an L-shaped remainder."""
    if box and box[0] == "words":
        return box[1]
    return math.prod(box)


def spread_offsets(dims, loops, stride, spread) -> list:
    """Offsets (per tensor dimension) of the copies under a fan-out: one per combination of
    the spatial loops ``spread`` (indices into ``loops``)."""
    offs = [tuple(0 for _ in dims)]
    for k in spread:
        r, f, s = loops[k].rank, loops[k].factor, stride[k]
        step = tuple(sum(c * s for c, rr in dim if rr == r) for dim in dims)
        offs = [tuple(o + i * st for o, st in zip(off, step)) for off in offs for i in range(f)]
    return offs


def distinct_copies(dims, loops, stride, spread) -> int:
    """Copies under a fan-out that need distinct words: per spatial loop group (level, axis),
    the number of distinct tile offsets, multiplied over the groups."""
    groups = {}
    for k in spread:
        groups.setdefault((loops[k].level, loops[k].kind), []).append(k)
    return math.prod(len(set(spread_offsets(dims, loops, stride, ks))) for ks in groups.values())
