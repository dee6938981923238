"""Per-row open-addressing hash tables as the SMASH kernels build them in scratchpad.

In hardware terms a row's table is an array of ``size`` 16-byte slots (an 8-byte key word holding
the column index, an 8-byte value word) in scratchpad. A thread inserting a partial product
``(col, v)`` computes the home slot ``(col * 107) & (size - 1)`` (the multiplicative hash of
nsparse, Nagasaka et al.), then probes linearly: at each slot it issues an atomic
compare-and-swap of the key word (empty -> col). The CAS either claims the empty slot, or
returns ``col`` (the column is already there), or returns another column (a collision: try the
next slot, wrapping around). Once the slot is found, an atomic fetch-and-add adds ``v`` into the
value word. So a partial product costs ``displacement + 1`` CAS probes and one fetch-add, and
its displacement is the distance from its home slot to the slot its column occupies.

Sizing: ``size`` is the smallest power of two >= 2 * min(flops of the row, columns of B): the
number of distinct columns of the row is at most both, so the load factor never exceeds 1/2
without a symbolic (counting) pass.

Placement is computed exactly, with numpy, for all rows of a chunk at once. With linear probing
and insert-only tables, the final slot of every column depends on the order of first insertion;
the slot of a column, once claimed, never changes, so every later partial product of that column
probes exactly the same slots. :func:`place_linear` finds the slots that sequential insertion in
the given order would produce, by a parallel rule: every unplaced key proposes its current probe
slot; each slot keeps the earliest-inserted key that ever proposed it (evicting a later one,
which moves on to the next slot). The fixed point is the sequential result: a slot ends up
holding the earliest-inserted key among those whose probe sequence reaches it, which is exactly
what sequential linear probing gives (the test suite checks it against a one-key-at-a-time
implementation).
"""

from __future__ import annotations

import numpy as np

from arch.errors import SimulationError

#: nsparse's multiplicative hash constant (Nagasaka et al.; docs/sources.md#nsparse-hash).
HASH_MULT = 107
#: Bytes of one slot: an 8-byte key word and an 8-byte value word (8-byte access granularity).
SLOT_BYTES = 16


def table_slots(bound) -> np.ndarray:
    """Slots of each row's table: the smallest power of two >= 2 * bound (0 for bound 0)."""
    b = np.asarray(bound, dtype=np.int64)
    out = np.zeros_like(b)
    pos = b > 0
    out[pos] = np.left_shift(1, np.ceil(np.log2(2 * b[pos])).astype(np.int64))
    # guard against floating-point rounding of log2 at exact powers of two
    small = out[pos] < 2 * b[pos]
    if small.any():
        idx = np.flatnonzero(pos)[small]
        out[idx] *= 2
    return out


def home_slot(cols, size) -> np.ndarray:
    """Home slot ``(col * 107) & (size - 1)`` of each column in a table of ``size`` slots."""
    return (np.asarray(cols, dtype=np.int64) * HASH_MULT) & (np.asarray(size, dtype=np.int64) - 1)


def first_writer(marker: np.ndarray, key: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``marker[key]`` after each key's cell receives the smallest ``g`` written to it.

    Every cell of ``key`` is overwritten, whatever it held. With ``g`` ascending, writing in
    reverse order leaves the smallest value in each cell when numpy assigns repeated indices in
    order (it does for one-dimensional integer indices, but does not promise it); the result is
    checked (every cell at most each of its ``g``) and recomputed with the guaranteed, slower
    ``np.minimum.at`` otherwise, so the answer is exact either way.
    """
    marker[key[::-1]] = g[::-1]
    got = marker[key]
    if (got > g).any():
        np.minimum.at(marker, key, g)
        got = marker[key]
    return got


def place_linear(home, base, size) -> np.ndarray:
    """Slots that sequential linear-probing insertion gives, for keys in insertion order.

    Parameters
    ----------
    home : int array (U,)
        Global home slot of each distinct key (table base + home slot), keys listed in order of
        first insertion; keys of different tables may be interleaved.
    base, size : int arrays (U,)
        Global first slot and slot count of each key's table (size a power of two, larger than
        the number of keys of that table).

    Returns
    -------
    int64 array (U,)
        Global slot of each key.
    """
    home = np.asarray(home, dtype=np.int64)
    base = np.asarray(base, dtype=np.int64)
    size = np.asarray(size, dtype=np.int64)
    U = home.size
    if U == 0:
        return home.copy()
    lo, hi = int(base.min()), int((base + size).max())
    kdt = np.int32 if U < np.iinfo(np.int32).max else np.int64
    empty = kdt(U)
    owner = np.full(hi - lo, empty, dtype=kdt)
    pos = home - lo
    base0 = base - lo
    mask = size - 1
    active = np.arange(U, dtype=kdt)
    rounds = 0
    while active.size:
        rounds += 1
        if rounds > 4 * int(size.max()) + 8:
            raise SimulationError("hash placement did not converge: a table is full")
        p = pos[active]
        prev = owner[p]
        # each proposed slot keeps the smallest of its previous owner and its proposers
        best = first_writer(owner, p, active)
        np.minimum(best, prev, out=best)
        owner[p] = best
        won = best == active
        evicted = prev[won]
        evicted = evicted[evicted != empty]
        moving = np.concatenate([active[~won], evicted])
        q = pos[moving]
        b0 = base0[moving]
        pos[moving] = b0 + ((q - b0 + 1) & mask[moving])
        active = np.sort(moving)
    return pos + lo
