"""The least a buffer fetches of a sliding-window tensor while the loops above it sweep it.

In hardware terms: a buffer holding a convolution's input tile (``I[c, p+r]``) refills it as the
loops above it walk the feature map. Cut the loops above the buffer into outer loops and inner
ones: each iteration of the outer loops (an *epoch*, ``E`` of them) moves the tile over every
position of the inner loops. An input loop over ``M`` (a rank the input does not have) outside
the feature-map loops sends the tile back over the whole map ``M`` times: the epochs see it
before the loop orders below the cut are chosen.

Why the floor holds: the model (:func:`sim.reuse.delta_counts`) fetches at each step at least
the words of the new tile that the previous tile did not hold (the whole tile when the move
changes). So an epoch fetches at least the words of the union ``U`` of its tiles less the one
tile ``W`` the buffer holds when the epoch starts (each word of ``U`` outside that tile is
fetched at its first position in the epoch), and the first epoch all of ``U``: at least
``U + (E - 1) * max(0, U - W)`` words. ``U`` is exact: per tensor dimension, the length of the
union of the tile's intervals at every offset of the inner loops (gaps included, as where a
fan-out spreads a rank over the buffer's copies), multiplied over the dimensions; this needs
each rank to index one dimension only.

A cut is taken only where every completion of the partial mapping (:mod:`sim.nest_bounds`)
has the same loops on each side: between two levels at or below ``assigned_from`` (the
stand-in's loops outside; ``E`` then leaves out the open ranks' stand-in, which may still come
down to that level), and inside a level whose order, or whose first loops, are chosen. The cut
above every loop (``E = 1``: every word the buffer holds over the run, once) needs every loop
where it will be: not while a stand-in is at level 0, whose loops may land inside or outside
the spatial loops of the levels between.
"""

from __future__ import annotations

import functools
import math


@functools.lru_cache(maxsize=65536)
def span(moves, width) -> int:
    """Words one tensor dimension covers when a tile ``width`` wide is moved by every sum of
    ``moves`` ((step, count), ...: ``i * step`` for ``i`` in ``range(count)``): the length of the
    union of the intervals ``[o, o + width)`` (remembered by its arguments, all it reads)."""
    offsets = {0}
    for step, count in moves:
        offsets = {o + i * step for o in offsets for i in range(count)}
    ordered = sorted(offsets)
    return sum(min(width, b - a) for a, b in zip(ordered, ordered[1:])) + width


def sweep_cuts(above, c, assigned_from, ordered, prefix) -> dict:
    """Where the loops ``above`` level ``c`` may be cut whatever the open choices.

    Parameters
    ----------
    above : list of mappings.nest.Loop
        The temporal loops above ``c`` that run more than once, outermost first.
    c, assigned_from, ordered, prefix
        The level, and what the partial mapping has chosen (:meth:`sim.nest_bounds.NestCost.bound`).

    Returns
    -------
    dict
        Position in ``above`` (loops before it are the epochs) -> whether the open ranks'
        stand-in must be left out of the epochs.
    """
    start = {}
    for b, lp in enumerate(above):
        start.setdefault(lp.level, b)
    cuts = {} if assigned_from > 0 else {0: False}

    def add(b, leave_open):
        cuts[b] = cuts.get(b, True) and leave_open

    for level in range(max(assigned_from, 1), c):
        add(sum(1 for lp in above if lp.level < level), level == assigned_from)
    for d, b0 in start.items():
        if d in ordered and not (d == 0 and assigned_from > 0):
            m = sum(1 for lp in above if lp.level == d)
        elif prefix is not None and prefix[0] == d:
            m = prefix[1]
        else:
            continue
        for j in range(1, m + 1):
            add(b0 + j, False)
    return cuts


def sweep_floor(place, above, widths, stride_of, cuts, open_ranks) -> int:
    """Floor of the words one instance of a buffer fetches of a sliding-window tensor.

    Parameters
    ----------
    place : dict
        rank -> (tensor dimension, coefficient) of every rank the tensor has.
    above : list of mappings.nest.Loop
        The temporal loops above the buffer that run more than once, outermost first.
    widths : tuple of int
        The buffer's tile width per tensor dimension (words).
    stride_of : dict
        (level, rank) -> how far a temporal loop moves its rank's index per step
        (:func:`sim.reuse.strides`).
    cuts : dict
        :func:`sweep_cuts`.
    open_ranks : collection of str
        Ranks whose stand-in a cut may have to leave out of the epochs.

    Returns
    -------
    int
        Words, the most over the cuts of ``U + (E - 1) * max(0, U - W)``.
    """
    tile = math.prod(widths)
    moves = [[] for _ in widths]
    best = 0
    for b in range(len(above), -1, -1):
        if b < len(above):
            lp = above[b]
            if lp.rank in place:
                d, coef = place[lp.rank]
                moves[d].append((coef * stride_of[(lp.level, lp.rank)], lp.factor))
        if b in cuts:
            u = math.prod(span(tuple(sorted(m)), w) for m, w in zip(moves, widths))
            leave = open_ranks if cuts[b] else ()
            e = math.prod(lp.factor for lp in above[:b] if not (lp.level == 0 and lp.rank in leave))
            best = max(best, u + (e - 1) * max(0, u - tile))
    return best
