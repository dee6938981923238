"""The hardware an attention lowering sees: a 2D PE array, a 1D PE array, a global buffer, DRAM.

In hardware terms this is the FuseMax/FLAT floor plan: a ``rows x cols`` array of PEs fed from
a shared global buffer (GLB), a 1D array of PEs beside it, a register file in every PE and a
DRAM channel. :func:`hardware` picks these out of a spatial spec (:mod:`arch.spec`) and
:func:`einsum_task` turns the op counts of one Einsum on one tile into what a task needs:
cycles, actions and energy.

Per-element issue interval (the convention every config shares; the functional units are
:func:`sim.cascade.functional_unit`, the rule the generic lowering applies under a mapping's
``op_issue: functional_units``): the ops an Einsum applies to one element go through the PE's
functional units as a pipeline. Ops that
share a unit serialise, ops on different units overlap. A PE has

* a multiply-add datapath for ``mac``, ``mul``, ``add``, ``sub`` (and ``exp`` when the spec
  gives exp an issue interval above one cycle: FuseMax has no exp unit and evaluates exp as 6
  sequential MACs, docs/sources.md#fusemax-arch);
* a dedicated exp unit when exp issues every cycle (FLAT's 1D array, docs/sources.md#flat-arch);
* a comparator for ``max``/``min``/``cmp``, a divider for ``div``, a move path for ``copy``.

So FuseMax's ``SLN = exp(BQK - RM)`` issues every 1 + 6 = 7 cycles on a PE and FLAT's
``SN = exp(QK - GM)`` every cycle ("one cycle per element per Einsum" on FLAT's 1D array).

Register files: every issue cycle of an op on a PE reads one operand from and writes one
result to that PE's register file (streamed operands pass through pipeline registers, which
the op energy covers). Global buffer and DRAM traffic is given by the lowering (bytes); a GLB
action moves ``access_bytes`` (a 256-value row), a DRAM action ``access_bytes`` (64 bits).
By default every DRAM byte is also staged through the GLB; ``hardware(spec, stage_dram=False)``
takes the FuseMax artifact's bypass convention instead (docs/fusemax.md, "Energy").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from arch.errors import MappingError, SpecError
from sim.cascade import functional_unit
from sim.cost import book, dram_transfer, storage_traffic, transfer_cycles

DRAM = "dram"


@dataclass(frozen=True)
class Hardware:
    """The parts of a spatial spec an attention lowering uses.

    Attributes
    ----------
    spec : arch.spec.SpatialSpec
    u2d, u1d : arch.spec.ComputeUnit
        The 2D array (``rows x cols`` PEs) and the 1D array (``n`` PEs).
    glb : arch.spec.StorageLevel
        The shared global buffer.
    rf2d, rf1d : arch.spec.StorageLevel or None
        Per-PE register files of each array.
    bw_bytes_per_cycle : float
        DRAM bandwidth in bytes per clock cycle.
    word_bytes : int
        Bytes per data word (2 for 16-bit words).
    stage_dram : bool
        Whether every byte moved to or from DRAM is also written to or read from the GLB
        (default). ``False`` is the FuseMax artifact's convention: tensors streamed between
        DRAM and the arrays bypass the buffer (Timeloop ``bypass``), so a DRAM transfer
        books no GLB action.
    """

    spec: object
    u2d: object
    u1d: object
    glb: object
    rf2d: object
    rf1d: object
    bw_bytes_per_cycle: float
    word_bytes: int
    stage_dram: bool = True

    @property
    def pd(self) -> int:
        """Tile edge: M0 = P0 = rows of the 2D array (256 on FuseMax)."""
        return self.u2d.rows

    def dram_cycles(self, nbytes: float) -> int:
        """Cycles the DRAM channel is busy moving ``nbytes`` bytes (rounded up)."""
        return transfer_cycles(nbytes, self.bw_bytes_per_cycle)


def hardware(spec, stage_dram: bool = True) -> Hardware:
    """Pick the 2D array, the 1D array, the GLB and the register files out of ``spec``.

    ``stage_dram``: see :class:`Hardware` (DRAM transfers staged through the GLB or not).
    """
    src = getattr(spec, "source", None)
    two = [u for u in spec.compute.values() if u.ndim == 2]
    one = [u for u in spec.compute.values() if u.ndim == 1]
    if len(two) != 1 or len(one) != 1:
        raise SpecError([("compute", f"attention needs exactly one 2D and one 1D PE array, "
                                     f"not {len(two)} and {len(one)}")], src)
    u2d, u1d = two[0], one[0]
    if u2d.rows != u2d.cols:
        raise SpecError([(f"compute.{u2d.name}.shape", f"must be square for M0 = P0 tiles, not {list(u2d.shape)}")], src)
    shared = [lv for lv in spec.storage.values() if lv.per_pe_of is None]
    glb = spec.storage.get("glb") or (shared[0] if shared else None)
    if glb is None:
        raise SpecError([("storage", "attention needs a shared global buffer (a level named 'glb')")], src)
    rf = {lv.per_pe_of: lv for lv in spec.storage.values() if lv.per_pe_of}
    word_bytes = max(1, spec.word_bits // 8)
    bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
    return Hardware(spec, u2d, u1d, glb, rf.get(u2d.name), rf.get(u1d.name), bw, word_bytes,
                    bool(stage_dram))


@dataclass
class Cost:
    """What one task instance costs: cycles on its unit, and the actions and energy it books."""

    cycles: int = 0
    latency: int = 0
    actions: dict = None
    energy_pj: dict = None
    active_pe_cycles: float = 0.0

    def __post_init__(self):
        self.actions = dict(self.actions or {})
        self.energy_pj = dict(self.energy_pj or {})

    def add(self, key, count, pj_each):
        """Book ``count`` actions ``key`` (component, action) at ``pj_each`` pJ each."""
        if count:
            self.actions[key] = self.actions.get(key, 0) + count
            self.energy_pj[key] = self.energy_pj.get(key, 0.0) + count * pj_each

    def book(self, priced: tuple):
        """Add an already priced ``(actions, energy_pj)`` pair (:func:`sim.cost.book`)."""
        book(self.actions, self.energy_pj, priced)


def einsum_cost(hw: Hardware, unit, name: str, counts: dict, lanes: int) -> Cost:
    """Cycles and actions of ``counts`` (op -> count) of Einsum ``name`` spread over ``lanes`` PEs.

    ``lanes`` is how many PEs of ``unit`` the mapping keeps busy (at most ``unit.pes``).
    Cycles = max over functional units of sum(issue cycles * ceil(count / lanes)); the op
    latency beyond one issue adds to the task's latency. Raises :class:`MappingError` if the
    unit lacks an operator the Einsum needs.
    """
    lanes = max(1, min(lanes, unit.pes))
    per_group, exact, latency = {}, {}, 0
    cost = Cost()
    rf = hw.rf2d if unit is hw.u2d else hw.rf1d
    issues = 0
    for op, n in counts.items():
        if not n:
            continue
        if op not in unit.operators:
            raise MappingError(f"Einsum {name}: unit {unit.name!r} lacks operator {op!r} "
                               f"(it has {', '.join(unit.operators)})")
        o = unit.operators[op]
        g = functional_unit(unit, op)
        per_group[g] = per_group.get(g, 0) + o.cycles * math.ceil(n / lanes)
        exact[g] = exact.get(g, 0) + o.cycles * n
        latency = max(latency, o.latency_cycles - o.cycles)
        cost.add((unit.name, op), n, o.energy_pj)
        issues += o.cycles * n
    cost.cycles = max(per_group.values(), default=0)
    cost.latency = latency
    cost.active_pe_cycles = float(max(exact.values(), default=0))
    if rf is not None and issues:
        cost.add((rf.name, "read"), issues, rf.read_pj)
        cost.add((rf.name, "write"), issues, rf.write_pj)
    return cost


def glb_traffic(hw: Hardware, cost: Cost, read_words: float = 0, write_words: float = 0) -> Cost:
    """Book GLB row reads/writes for ``read_words``/``write_words`` words moved."""
    cost.book(storage_traffic(hw.glb, read_words * hw.word_bytes, write_words * hw.word_bytes))
    return cost


def dram_cost(hw: Hardware, read_bytes: float = 0, write_bytes: float = 0, stage_glb: bool = True) -> Cost:
    """A DRAM transfer: busy cycles at the DRAM bandwidth, access energy, GLB staging.

    The GLB staging (a GLB write per byte read from DRAM, a GLB read per byte written) is
    booked when ``stage_glb`` and ``hw.stage_dram`` are both true.
    """
    d = hw.spec.dram
    cost = Cost(cycles=hw.dram_cycles(read_bytes + write_bytes), latency=int(d.latency_cycles))
    cost.book(dram_transfer(read_bytes, write_bytes, d.pj_per_byte))
    if stage_glb and hw.stage_dram:
        w = hw.word_bytes
        glb_traffic(hw, cost, read_words=write_bytes / w, write_words=read_bytes / w)
    cost.active_pe_cycles = float(cost.cycles)
    return cost
