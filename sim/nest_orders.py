"""The least energy a storage level's loop order still costs when the tensors disagree on it.

In hardware terms: while a level's loop order is open, each tensor's fetch floor assumes the
order that suits that tensor best: the loops over ranks it does not have run inside its own
(the tile stays while they run). Two tensors that each have a rank the other lacks cannot both
have that: in Eyeriss's global buffer, weights want the ``C`` loop outside the ``P`` and ``Q``
loops (a weight tile stays while the feature map is walked), partial sums want it inside (an
output tile stays while the channels are summed). Whichever order the level takes, one of them
fetches more than its floor. :func:`order_extra_pj` is the least, over every order of the
level's loops, of what all of them fetch above their floors, priced: a floor that can be added
to the per-tensor floors.

Why it holds (:mod:`sim.nest_bounds` gives the per-tensor rule): for a tensor without a sliding
window, whose innermost level holding a loop over one of its ranks (above a level keeping it)
is this level ``D``, the model fetches its whole tile ``W`` once per iteration of every loop
above ``D`` (``n`` iterations) and of ``D``'s loops from the outermost down to the innermost
one over a rank of the tensor: ``W * n * prod(those factors)`` words, exactly, once the order
is chosen. The per-tensor floor took ``F0``, at most the least of these; the excess over
``F0`` of a chosen order is fetched on top of it. Counts are priced per block, and
``ceil((a + b) / k) >= ceil(a / k) + floor(b / k)``, so the excess is priced with ``floor``.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np


@functools.lru_cache(maxsize=16)
def _permutations(k: int) -> np.ndarray:
    """Every order of ``k`` loops: an array (k!, k) of loop indices, outermost first."""
    out = np.array(list(itertools.permutations(range(k))), dtype=np.int64).reshape(-1, k)
    out.setflags(write=False)
    return out


def order_extra_pj(factors, terms) -> float:
    """Least priced excess, over every order of one level's loops, of the tensors' fetches.

    Parameters
    ----------
    factors : sequence of int
        Trip counts of the level's loops (each > 1).
    terms : sequence of (own, base_words, floor_words, prices)
        One per (tensor, level below ``D`` keeping it) whose fetches ``D``'s order decides:
        ``own``, per loop, whether the tensor has the loop's rank; ``base_words``, ``W * n``
        (words); ``floor_words``, the fetch floor already counted (words, ``F0``);
        ``prices``, ``(pJ per block, words served per word fetched, words per block)`` for
        each count the fetches feed (fills of the level below, reads and updates of the
        level above, times the instances in use).

    Returns
    -------
    float
        pJ that every order adds to the per-tensor floors; 0 when the tensors' sets of loops are
        nested (one order suits them all: each one's loops before the others).
    """
    owns = sorted({frozenset(k for k, mine in enumerate(own) if mine) for own, *_ in terms}, key=len)
    if len(factors) < 2 or all(a <= b for a, b in zip(owns, owns[1:])):
        return 0.0  # nested rank sets: one order runs every tensor's other loops inside its own
    perms = _permutations(len(factors))
    f = np.asarray(factors, dtype=np.int64)[perms]
    pos = np.arange(len(factors))
    extra = np.zeros(len(perms), dtype=np.float64)
    for own, base_words, floor_words, prices in terms:
        mine = np.asarray(own, dtype=bool)[perms]
        last = len(factors) - 1 - np.argmax(mine[:, ::-1], axis=1)  # innermost loop of its ranks
        upto = np.prod(np.where(pos[None, :] <= last[:, None], f, 1), axis=1)
        excess = np.maximum(0, base_words * upto - floor_words)
        for pj, served, block in prices:
            extra += pj * ((excess * served) // block)
    return float(extra.min())
