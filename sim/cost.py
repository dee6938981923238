"""The rules every lowering prices with: a transfer's cycles, and the energy of any action.

In hardware terms a transfer of ``B`` bytes over a channel moving ``w`` bytes per cycle keeps
the channel busy for ``ceil(B / w)`` cycles (a partly used last cycle is a whole cycle), and
costs ``B`` times the channel's energy per byte. The ceiling is taken after subtracting
:data:`GUARD` cycle, so that a quotient that float rounding lifts a hair above an integer
(``3 * (1/3) * 3``) does not gain a cycle; a transfer of no bytes takes no cycle.

Energy has one rule, :func:`priced`: ``count`` actions of one ``(component, action)`` key cost
``count`` times the pJ of one action, booked under that key as an ``(actions, energy_pj)``
pair that :func:`book` adds into a task's totals. The other pricing functions are that rule
with the count and the pJ read from a spec: :func:`action_cost` (any spec component that
prices its actions, ``component.energy(action)``), :func:`op_costs` (a compute unit's
operations), :func:`register_costs` (a unit's per-PE levels), :func:`storage_traffic` (bytes
through an on-chip level), :func:`dram_transfer` (bytes to and from DRAM).

Each of them has an ``*_items`` twin that returns the ``(component, action, count, pJ each)``
items it prices; :func:`book_priced` books many items at once, :func:`book_counts` counts
against ``((component, action), pJ each)`` pairs read off a spec once (a lowering's prices).

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


def priced(component: str, action: str, count, pj_each) -> tuple:
    """The one pricing rule: ``count`` actions at ``pj_each`` pJ each.

    Parameters
    ----------
    component : str
        The component as the spec names it (``glb``, ``pe2d``, ``dram``).
    action : str
        A storage action of :data:`STORAGE_ACTIONS` or an operator name of the spec.
    count : float or numpy.ndarray
        Actions (accesses, operations, or bytes for DRAM and network links).
    pj_each : float
        pJ of one action.

    Returns
    -------
    tuple
        ``(actions, energy_pj)``: ``{(component, action): count}`` and
        ``{(component, action): count * pj_each}`` (pJ).
    """
    key = (component, action)
    return {key: count}, {key: count * pj_each}


def action_cost(component, action: str, count) -> tuple:
    """:func:`priced` ``count`` of ``action`` on a spec ``component`` (an object with ``name``
    and ``energy(action)``, pJ per action: a storage or compute level of any spec)."""
    return priced(component.name, action, count, component.energy(action))


def priced_items(items) -> tuple:
    """``(actions, energy_pj)`` of ``(component, action, count, pJ each)`` items, each
    :func:`priced` and booked (:func:`book`) in turn."""
    actions, energy = {}, {}
    book_priced(actions, energy, items)
    return actions, energy


def book_priced(actions: dict, energy: dict, items) -> None:
    """Book ``(component, action, count, pJ each)`` items into ``actions`` and ``energy`` in
    place: ``book(actions, energy, priced(*item))`` for each item in turn (the same rule, the
    same sums in the same order, bit for bit), without building a pair of dicts per item.
    For lowerings that price many tasks."""
    items = list(items)
    book_counts(actions, energy, [((c, a), pj) for c, a, _, pj in items], [n for _, _, n, _ in items], zeros=True)


def book_counts(actions: dict, energy: dict, rated, counts, zeros: bool = False) -> None:
    """:func:`book_priced` of ``counts[i]`` actions of ``rated[i]``, a ``((component, action),
    pJ each)`` pair read off a spec once, for lowerings that price many tasks of one kind;
    a count of zero books nothing unless ``zeros`` (numbers only, unless ``zeros``)."""
    for (key, pj_each), count in zip(rated, counts):
        if zeros or count:
            if key in actions:
                actions[key] = actions[key] + count
                energy[key] = energy[key] + count * pj_each
            else:
                actions[key] = 0 + count
                energy[key] = 0.0 + count * pj_each


def op_costs(unit, op_counts: dict, instances=1) -> tuple:
    """``(actions, energy_pj)`` of operations on a spec compute ``unit``: ``(unit, op)``
    counted in operations at the operator's pJ.

    ``op_counts``: op -> operations of the whole work; ``instances``: tasks sharing it equally
    (each books ``count / instances``). An operator with no operations books nothing.
    """
    return priced_items(op_items(unit, op_counts, instances))


def op_items(unit, op_counts: dict, instances=1) -> list:
    """The ``(component, action, count, pJ each)`` items that :func:`op_costs` prices."""
    return [(unit.name, op, n / instances, unit.energy(op)) for op, n in op_counts.items() if n]


def register_costs(spec, unit: str, inputs: int, points, instances=1) -> tuple:
    """``(actions, energy_pj)`` of the per-PE levels of compute unit ``unit`` (spec levels
    whose ``per_pe_of`` is ``unit``, in spec order): each iteration point reads each of its
    ``inputs`` operands once and writes its result once, one word of ``spec.word_bits`` each,
    counted in accesses of the level's ``access_bytes`` (a level of no access width books
    nothing). ``points``: iteration points of the whole work; ``instances``: tasks sharing it
    equally."""
    levels = [level for level in spec.storage.values() if level.per_pe_of == unit]
    return priced_items(register_items(levels, spec.word_bits / 8, inputs, points, instances))


def register_items(levels, word_bytes: float, inputs: int, points, instances=1) -> list:
    """The items that :func:`register_costs` prices, of a unit's per-PE ``levels`` (in spec
    order) and words of ``word_bytes`` bytes."""
    items = []
    for level in levels:
        items += access_items(level, *register_accesses(inputs, points, word_bytes / level.access_bytes
                                                        if level.access_bytes else 0, instances))
    return items


def register_accesses(inputs: int, points, per_word: float, instances=1) -> tuple:
    """``(reads, writes)`` of a per-PE level by ``points`` iteration points that each read
    ``inputs`` operands and write one result, ``per_word`` accesses per word, shared by
    ``instances`` tasks (:func:`register_items`' counts)."""
    return inputs * points * per_word / instances, points * per_word / instances


def dram_transfer(read_bytes=0.0, write_bytes=0.0, pj_per_byte=0.0) -> tuple:
    """``(actions, energy_pj)`` of a DRAM transfer: ``("dram", "read")`` and ``("dram", "write")``
    counted in bytes and priced at ``pj_per_byte``; a direction with no bytes is left out."""
    return priced_items(dram_items(read_bytes, write_bytes, pj_per_byte))


def dram_items(read_bytes=0.0, write_bytes=0.0, pj_per_byte=0.0) -> list:
    """The items that :func:`dram_transfer` prices."""
    out = []
    if isinstance(read_bytes, np.ndarray) or read_bytes:   # an action that did not happen books no key
        out.append((DRAM, "read", read_bytes, pj_per_byte))
    if isinstance(write_bytes, np.ndarray) or write_bytes:   # an action that did not happen books no key
        out.append((DRAM, "write", write_bytes, pj_per_byte))
    return out


def access_costs(level, reads=0.0, writes=0.0) -> tuple:
    """``(actions, energy_pj)`` of ``reads`` and ``writes`` accesses of an on-chip storage
    ``level`` (a spec storage level: ``name``, ``energy(action)`` pJ per access): ``(name,
    "read")`` and ``(name, "write")``; a direction with no accesses is left out."""
    return priced_items(access_items(level, reads, writes))


def access_items(level, reads=0.0, writes=0.0) -> list:
    """The items that :func:`access_costs` prices."""
    out = []
    if isinstance(reads, np.ndarray) or reads:   # an action that did not happen books no key
        out.append((level.name, "read", reads, level.energy("read")))
    if isinstance(writes, np.ndarray) or writes:   # an action that did not happen books no key
        out.append((level.name, "write", writes, level.energy("write")))
    return out


def storage_traffic(level, read_bytes=0.0, write_bytes=0.0) -> tuple:
    """:func:`access_costs` of moving bytes through an on-chip storage ``level`` (with
    ``access_bytes``): accesses of ``access_bytes`` each (a partly used access is a fraction:
    the counts are totals over many transfers)."""
    return priced_items(storage_items(level, read_bytes, write_bytes))


def storage_items(level, read_bytes=0.0, write_bytes=0.0) -> list:
    """The items that :func:`storage_traffic` prices."""
    return access_items(level, read_bytes / level.access_bytes, write_bytes / level.access_bytes)


def book(actions: dict, energy: dict, priced: tuple) -> None:
    """Add ``priced``, an ``(actions, energy_pj)`` pair from this module, into ``actions`` and
    ``energy`` (counts and pJ accumulate per key)."""
    for key, count in priced[0].items():
        actions[key] = actions.get(key, 0) + count
        energy[key] = energy.get(key, 0.0) + priced[1][key]


def dram_bytes(actions) -> float:
    """Bytes moved to and from DRAM by ``actions`` ((component, action) -> count)."""
    return sum(v for (comp, act), v in actions.items() if comp == DRAM and act in STORAGE_ACTIONS)
