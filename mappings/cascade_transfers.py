"""What crosses the chip boundary in a fusion group's loop nest: loads and stores of tiles.

In hardware terms a :class:`Transfer` is one tensor tile moved between DRAM and the chip by
the DRAM channel, once per change of the tile (Timeloop's refetch rule: a tile is loaded again
whenever a loop over one of its ranks advances, or a loop over another rank inside the
innermost of those; an input its reader bypasses is held nowhere and streams in every time the
reader runs); a result leaves when its tile is complete, and partial sums stored more often
than there are tiles are read back. A group may also pass a tensor to one of its own Einsums
through DRAM (``spill``): its producer stores it and the named consumer loads it back.

:func:`mappings.cascade_plan.plan` calls these with the group's facts (its Einsums, their tiles
``work_of`` per iteration, the loop trips; of ``g.loops`` only the ranks are read, the
tiles being those of the trips); ``cascade`` is a
:class:`~mappings.cascade_facts.CascadeFacts` (its ``extents`` give a reference's tile).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from arch.errors import MappingError


class Transfer(NamedTuple):
    """A tensor tile crossing the chip boundary: ``kind`` is ``load`` or ``store``."""

    tensor: str
    kind: str
    einsum: str           # the reader (load) or the producer (store)
    words: int            # per instance
    every: int
    offset: int
    instances: int
    readback_words: float  # stores of partial sums read back, per instance
    kept: bool            # held by the group's buffer (else it streams past it)
    spilled: bool = False  # a tensor passed inside the group through DRAM (Group.spill)


def refs(e, tensor: str) -> list:
    """The references of Einsum ``e`` that read ``tensor``."""
    return [r for r in e.inputs if r.name == tensor]


def crossings(einsums, outputs, g, members, producer) -> tuple:
    """What crosses the boundary of group ``g`` whatever the sizes, in member order:
    ``("load", tensor, reader, its references reading it)`` for each tensor it reads from
    outside (the first reader's) and ``("store", tensor, producer, (its output reference,))``
    for each result read outside it or a cascade output (one of ``outputs``). ``einsums``:
    the cascade's; ``producer``: the members by tensor."""
    outside_reads = {t for x in einsums if x.name not in g.einsums for t in x.input_tensors}
    out, seen = [], set()
    for e in members:
        for x in e.input_tensors:
            if x not in producer and x not in seen:
                seen.add(x)
                out.append(("load", x, e, tuple(refs(e, x))))
        if e.name in outside_reads or e.name in outputs:
            out.append(("store", e.name, e, (e.output,)))
    return tuple(out)


def tile_words(cascade, crossing, m, g, work_of) -> list:
    """(words per tile, kept by the group's buffer) of each entry of ``crossing``
    (:func:`crossings`) when the members work on tiles ``work_of``: what the buffer holds of
    them, before :func:`transfers` says how often they move."""
    return [(_words(cascade, references, work_of[e.name]), m.of(e.name).keeps(g.buffer, x))
            for _, x, e, references in crossing]


def _words(cascade, references, work: dict) -> int:
    """Words of the largest tile of ``references`` (of one Einsum) when its ranks take ``work``."""
    return max([cascade.words(r, work) for r in references])


def transfers(cascade, g, crossing, words, trips, work_of) -> list:
    """The loads and stores of ``crossing`` (:func:`crossings`) at loop trips ``trips``, their
    tiles' ``words`` (:func:`tile_words`)."""
    return [_load(x, e, references, w, kept, g, cascade, trips, work_of) if kind == "load" else
            _store(e, w, kept, g, cascade, trips) for (kind, x, e, references), (w, kept) in zip(crossing, words)]


def check_spill(g, producer, label) -> None:
    """Each spilled tensor is produced in the group and read by its named consumer, which sits
    at least two stages after the producer (a store, then a load)."""
    for x, c in g.spill.items():
        if x not in producer or c not in producer or not refs(producer[c], x):
            raise MappingError(f"{label}: spill of tensor {x!r} to einsum {c!r} at level {g.buffer!r}: "
                               f"the group must produce {x!r} and {c!r} must read it")
        if g.stage(c) < g.stage(x) + 2:
            raise MappingError(f"{label}: spilled tensor {x!r} at level {g.buffer!r} needs einsum {c!r} at least two "
                               f"stages after einsum {x!r} (a store, then a load), not {g.stage(c) - g.stage(x)}")


def spills(g, producer, steps, m, cascade, trips, work_of) -> list:
    """The store and the load of every tensor the group passes through DRAM (``spill``)."""
    stage = {st.einsum: st for st in steps}
    out = []
    for x, c in g.spill.items():
        e = producer[x]   # its store passes no buffer: not kept
        out.append(_store(e, _words(cascade, (e.output,), work_of[e.name]), False, g, cascade, trips)._replace(spilled=True))
        sc = stage[c]
        out.append(Transfer(x, "load", c, _words(cascade, refs(producer[c], x), work_of[c]), sc.every, sc.offset,
                            sc.instances, 0.0, m.of(c).keeps(g.buffer, x), True))
    return out


def _refetch_every(ranks_indexing: set, g, trips) -> int:
    """Iterations between two changes of a tile indexed by ``ranks_indexing``: the product of
    the trips of the innermost loops over other ranks."""
    every = 1
    for (r, _), t in reversed(list(zip(g.loops, trips))):
        if r in ranks_indexing:
            break
        every *= t
    return every


def _load(x, e, readers, words, kept, g, cascade, trips, work_of) -> Transfer:
    ranks = set().union(*(cascade.ranks_of(r) for r in readers))
    # a bypassed tile is held nowhere on chip: it streams in again every time its reader runs
    # (once per sweep of the loops over ranks the reader lacks)
    every = _refetch_every(ranks, g, trips) if kept else \
        math.prod(t for (r, _), t in zip(g.loops, trips) if r not in work_of[e.name])
    n = math.prod(trips) // every
    return Transfer(x, "load", e.name, words, every, 0, n, 0.0, kept)


def _store(e, words, kept, g, cascade, trips) -> Transfer:
    ranks = cascade.ranks_of(e.output)
    every = _refetch_every(ranks, g, trips)
    n = math.prod(trips) // every
    distinct = math.prod(t for (r, _), t in zip(g.loops, trips) if r in ranks)
    readback = words * (n - distinct) / n if n > distinct else 0.0
    return Transfer(e.name, "store", e.name, words, every, every - 1, n, readback, kept)
