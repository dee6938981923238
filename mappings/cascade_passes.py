"""The tensors a fusion group passes from one of its Einsums to another, checked at a tile.

In hardware terms a passed tensor lives in the group's buffer (its largest tile times the
copies the buffer holds), or in the PEs' registers of the unit producing and consuming it
(when the producer bypasses the buffer), or nowhere (through DRAM, or taken in passing as it
streams): :func:`passes` works out which, once per cascade, group, mapping and spec, and
:func:`held_bytes` what it holds at a given tile; :func:`pass_words` checks that producer and
consumer tiles meet. A tile that does not fit raises :class:`Overflow` (a smaller ``fit``
tile may).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

from arch.errors import MappingError
from mappings.cascade_facts import EinsumTable, einsum_facts, ref_forms_by_id
from mappings.cascade_mapping import Group
from mappings.cascade_transfers import refs


class Overflow(MappingError):
    """A group's tiles do not fit its buffer or its PEs' registers (a smaller ``fit`` may);
    ``excess``: what they need over what there is (> 1)."""

    def __init__(self, message: str, excess: float):
        super().__init__(message)
        self.excess = excess


class Pass(NamedTuple):
    """What the check of one passed tensor reads of its group's mapping, whatever the sizes."""

    tensor: str
    producer: object      # the producing Einsum's facts
    consumer: str
    reads: tuple          # the consumer's references reading it
    refused: str          # why it cannot pass (bypassed with nowhere to go), else ""
    elsewhere: bool       # through DRAM, or taken in passing: the buffer holds none of it
    in_registers: bool    # the producer bypasses the buffer: its unit's registers hold it
    registers: tuple      # (level, bytes per word, bytes) of the registers of the producer's unit
    pes: int              # PEs of the producer's unit
    copies: int           # stages crossed, plus one (copies in registers)
    tiled: tuple          # (producer, consumer) have tiles at the group's buffer
    axes: tuple | None    # when every read is the producer's tile axis by axis (references
                          # of plain ranks, no tiles at the buffer): the producer's ranks


@lru_cache(maxsize=256)
def passes(cascade, g: Group, pairs: tuple, placements: tuple, spec, label: str) -> tuple:
    """:class:`Pass` of every (tensor, consumer) of ``pairs`` in group ``g`` whose members
    are placed as ``placements`` (units, keep/bypass and which levels have tiles read) on
    ``spec``: once per cascade, group, mapping and spec."""
    facts = EinsumTable(einsum_facts(cascade))
    forms = ref_forms_by_id(cascade)[0]   # the references whose projection reads no rank size
    pl = {p.einsum: p for p in placements}
    out = []
    for x, cons in pairs:
        prod = facts.einsum(x)
        pp, cp = pl[prod.name], pl[cons]
        reads = tuple(refs(facts.einsum(cons), x))
        tiled = (g.buffer in pp.tiles, g.buffer in cp.tiles)
        # every member's tile of a rank is the same (the group's loop tile or the whole rank)
        plain = [forms[id(r)][1] if id(r) in forms else None for r in (prod.output, *reads)]
        axes = plain[0] if not any(tiled) and plain[0] is not None and all(a == plain[0] for a in plain) else None
        registers = tuple((lv, s.word_bytes, s.size_bytes) for lv, s in spec.storage.items() if s.per_pe_of == pp.unit)
        in_pes = pp.unit == cp.unit and bool(registers)
        # through DRAM (spill); or, in the producer's stage and bypassing the buffer, taken in
        # passing as it streams out to DRAM (a spilled tensor) or out of the producer's array
        # (into another array, or into the buffer when the producer keeps it there)
        one_stage = g.stage(prod.name) == g.stage(cons) and not cp.keeps(g.buffer, x)
        elsewhere = g.spill.get(x) == cons or (one_stage and (x in g.spill or not in_pes))
        refused = ""
        if (not pp.keeps(g.buffer, x) or not cp.keeps(g.buffer, x)) and not (in_pes or elsewhere):
            who = prod.name if not pp.keeps(g.buffer, x) else cons
            refused = (f"{label}: einsum {who!r} bypasses passed tensor {x!r} at level {g.buffer!r}, but "
                       f"{prod.name!r} and {cons!r} neither share a unit with per-PE storage to hold it "
                       f"nor both bypass it in one stage")
        out.append(Pass(x, prod, cons, reads, refused, elsewhere, not pp.keeps(g.buffer, x), registers,
                         spec.compute[pp.unit].pes, g.stage(cons) - g.stage(prod.name) + 1, tiled, axes))
    return tuple(out)


def pass_words(cascade, ps: Pass, m, g, label, work_of) -> int:
    """Words of the largest tile of passed tensor ``ps``, its producer's and consumer's tiles
    checked to meet (``m``: the members' placements at this tile; ``work_of``: their tiles)."""
    x, prod, cons_name = ps.tensor, ps.producer, ps.consumer
    held_p, held_c = work_of[prod.name], work_of[cons_name]
    if ps.tiled[0]:
        held_p = {**held_p, **m.of(prod.name).tiles[g.buffer]}
    if ps.tiled[1]:
        held_c = {**held_c, **m.of(cons_name).tiles[g.buffer]}
    pext = cascade.extents(prod.output, held_p)
    words = math.prod(pext)
    for ref in ps.reads:
        cext = cascade.extents(ref, held_c)
        if cext != pext:
            for a, (pe, ce) in enumerate(zip(pext, cext)):
                if ce % pe:
                    raise MappingError(f"{label}: tiles of tensor {x!r} do not meet at level {g.buffer!r}: einsum "
                                       f"{cons_name!r} reads {ce} along axis {a} ({ref.indices[a]}), not a whole "
                                       f"number of einsum {prod.name!r}'s tiles of {pe}")
            words = max(words, math.prod(cext))
    return words


def held_bytes(ps: Pass, words: int, g, word_bytes, label) -> float:
    """Bytes the group's buffer holds for passed tensor ``ps`` whose largest tile is ``words``."""
    if ps.elsewhere:
        return 0.0
    if ps.in_registers:
        # it stays in the PEs' registers of the unit producing and consuming it: an in-order
        # unit issues the consumer before the next producer, so one copy per stage crossed
        per_pe = math.ceil(words * ps.copies / ps.pes)
        for lv, wb, size in ps.registers:
            if per_pe * wb > size:
                raise Overflow(f"{label}: tensor {ps.tensor!r} of einsum {ps.producer.name!r} bypasses the buffer but needs "
                                f"{per_pe * wb:g} bytes per PE at level {lv!r}, which holds {size}", per_pe * wb / size)
        return 0.0
    return words * g.counted_slots * word_bytes
