"""The rules every lowering prices data movement with: a transfer's cycles and its energy.

In hardware terms a transfer of ``B`` bytes over a channel moving ``w`` bytes per cycle keeps
the channel busy for ``ceil(B / w)`` cycles (a partly used last cycle is a whole cycle), and
costs ``B`` times the channel's energy per byte. The ceiling is taken after subtracting
:data:`GUARD` cycle, so that a quotient that float rounding lifts a hair above an integer
(``3 * (1/3) * 3``) does not gain a cycle; a transfer of no bytes takes no cycle.

The functions take Python numbers or numpy arrays (the mapper's bounds evaluate whole arrays
of candidates with the same rule the lowering books one tile with).
"""

from __future__ import annotations

import math

import numpy as np

#: Cycles subtracted before a ceiling: float noise, never a real fraction of a cycle.
GUARD = 1e-9


def cycles_of(work):
    """``ceil(work - GUARD)``, at least 0: cycles of ``work`` cycles of (fractional) occupancy.

    An ``int`` for a Python number, an array of floats for an array.
    """
    if isinstance(work, np.ndarray):
        return np.maximum(np.ceil(work - GUARD), 0.0)
    return max(0, math.ceil(work - GUARD))


def transfer_cycles(nbytes, bytes_per_cycle):
    """Cycles a channel of ``bytes_per_cycle`` is busy moving ``nbytes`` bytes (0 for none)."""
    return cycles_of(nbytes / bytes_per_cycle)



# ----------------------------------------------------------------------------- action keys
#: Actions on storage (the second element of a ``(component, action)`` key): a read, a write,
#: a read-modify-write (``update``, a partial sum accumulated in place), or an ``access`` that
#: a model does not tell apart as read or write. On-chip levels count accesses of the level's
#: access width (Timeloop's convention, so counts compare with Timeloop's); DRAM counts bytes.
#: Compute units' actions are the operator names of the spec (``mac``, ``exp``, ...).
STORAGE_ACTIONS = ("read", "write", "update", "access")
#: The off-chip memory's component name in every spec and record.
DRAM = "dram"


def dram_transfer(read_bytes=0.0, write_bytes=0.0, pj_per_byte=0.0) -> tuple:
    """``(actions, energy_pj)`` of a DRAM transfer: ``("dram", "read")`` and ``("dram", "write")``
    counted in bytes and priced at ``pj_per_byte``; a direction with no bytes is left out."""
    actions, energy = {}, {}
    for action, n in (("read", read_bytes), ("write", write_bytes)):
        if n:
            actions[(DRAM, action)] = n
            energy[(DRAM, action)] = n * pj_per_byte
    return actions, energy


def storage_traffic(level, read_bytes=0.0, write_bytes=0.0) -> tuple:
    """``(actions, energy_pj)`` of moving bytes through an on-chip storage ``level`` (a spec
    storage level: ``name``, ``access_bytes``, ``read_pj``, ``write_pj``): ``(name, "read")``
    and ``(name, "write")`` counted in accesses of ``access_bytes`` (a partly used access is a
    fraction: the counts are totals over many transfers) at the level's pJ per access; a
    direction with no bytes is left out."""
    actions, energy = {}, {}
    for action, n, pj in (("read", read_bytes, level.read_pj), ("write", write_bytes, level.write_pj)):
        if n:
            actions[(level.name, action)] = n / level.access_bytes
            energy[(level.name, action)] = n / level.access_bytes * pj
    return actions, energy


def book(actions: dict, energy: dict, priced: tuple) -> None:
    """Add ``priced``, an ``(actions, energy_pj)`` pair from this module, into ``actions`` and
    ``energy`` (counts and pJ accumulate per key)."""
    for key, count in priced[0].items():
        actions[key] = actions.get(key, 0) + count
        energy[key] = energy.get(key, 0.0) + priced[1][key]


def dram_bytes(actions) -> float:
    """Bytes moved to and from DRAM by ``actions`` ((component, action) -> count)."""
    return sum(v for (comp, act), v in actions.items() if comp == DRAM and act in STORAGE_ACTIONS)
