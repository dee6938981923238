"""One generic lowering: a mapped cascade on a spatial accelerator into a task graph.

In hardware terms every fusion group of the mapping (an unfused Einsum is a group of one) is a
loop nest whose body is one tile of each of its Einsums, each on the PE array its mapping
binds it to, plus the DRAM channel's loads and stores of the tiles that cross the chip
boundary. Groups run one after another (a barrier between them). Inside a group:

* each unit issues its Einsums' tiles in order, in the order the fusion group lists them;

* an Einsum's tile takes ``ceil(PE steps * cycles per point)`` cycles on its unit, where the
  PE steps are the product over its ranks of ``ceil(tile / spatial factor)``; an Einsum on a
  recurrence whose iterative rank runs inside the tile takes at least ``steps * latency`` (one
  step of the recurrence chain needs the previous one's result: never unrolled); its result
  is visible ``latency - cycles`` cycles after the unit is released when its operator chain
  is deeper than its occupancy; a reduction over the rank spread along a 2D array's rows
  delivers its result ``rows`` cycles after its last issue, once the partial sums have
  travelled down the columns (:func:`row_drain`: FuseMax's LM, SLD and SLNV into the 1D
  array);
* a consumer waits for its producers in the same iteration, a reader of recurrence state for
  the writer ``stride`` iterations back (so a ``T``-step recurrence costs at least ``T``
  times its chain latency on both engines), a producer for the consumer that frees its slot
  (``slots`` copies); loads are double buffered (a load waits for the reader of the tile
  before last), stores wait for the producer;
* lock-step sets (a group's ``sync``): each task of a set waits until every task of the
  previous set has issued, the first set for the last one an iteration back (:func:`sim.cascade_phases.synced`);
* pipeline stages shift an Einsum's work by ``stage`` iterations: the steady state is one
  phase in which stage-1 work of tile ``i - 1`` overlaps stage-0 work of tile ``i`` on
  another unit, with a prologue and an epilogue of ``max stage`` one-iteration phases.

Counting per instance (totals are exact; time uses the full tile, so an edge tile is timed
as a full one): the Einsum's operations at the unit's pJ (its exact op counts over its
instances), per-PE register reads (one per input operand per point) and writes (one per
point; one PE's share of them under ``accounting: {register_files: one_pe}``,
:func:`register_share`), global-buffer reads of the kept input tiles and writes of the kept
output tile, DRAM
bytes of loads and stores, and buffer fills and drains of the tensors the buffer keeps
(bypassed tensors stream past it and cost no buffer access).

What does not depend on the sizes is read once and kept by the values read: a compute unit's
issue table, pJ and register levels (:func:`_unit_rates`), an Einsum's chain latency, the
tensors its group's buffer keeps and the prices of its tile's actions (:func:`_einsum_rates`),
the prices of loads and stores (:func:`_transfer_prices`); a task's (actions, energy) pair is
shared by the tasks of other points with the same counts (:class:`_Prices`); the tasks of a
group are laid out in phases by :mod:`sim.cascade_phases`, once per structure.
"""

from __future__ import annotations

import math
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from mappings.cascade_mapping import Group
from mappings.cascade_facts import CascadeFacts
from mappings.cascade_plan import einsum_latency, plan
from mappings.mapping import shapes_from_cascade
from sim.cascade_phases import laid_out
from sim.cost import book_counts, cycles_of, register_accesses, transfer_cycles
from sim.taskgraph import Task, TaskGraph

__all__ = ["lower", "planned", "graph", "dram_cycles", "Planned", "cost_group", "STORE_TRAIL", "issue_cycles",
           "functional_unit", "row_drain", "register_share"]

#: Iterations by which a store trails the Einsum that produced its tile.
STORE_TRAIL = 2


def lower(cascade, shape: dict, mapping, spec, stage_dram: bool = False) -> TaskGraph:
    """Lower ``cascade`` at rank sizes ``shape`` with ``mapping`` (a
    :class:`~mappings.cascade_mapping.CascadeMapping`) on ``spec`` into a :class:`TaskGraph`.

    ``stage_dram``: every byte moved to or from DRAM also passes the group's buffer (a write
    per byte loaded, a read per byte stored), whatever the mapping keeps or bypasses; the
    default books buffer accesses only for the tensors the buffer keeps. Energy only.

    Raises
    ------
    MappingError
        The mapping cannot run (see :func:`mappings.cascade_plan.plan`).
    """
    return graph(planned(cascade, shape, mapping, spec), stage_dram)


class Planned(NamedTuple):
    """A mapped cascade planned at one point (:func:`planned`): what :func:`graph` lowers."""

    facts: object         # the cascade's CascadeFacts at the point
    shapes: dict          # Einsum name -> EinsumShape
    mapping: object       # the CascadeMapping
    spec: object
    plans: list           # mappings.cascade_plan.GroupPlan, one per fusion group


def planned(cascade, shape: dict, mapping, spec, only: str | None = None) -> Planned:
    """``mapping`` checked against ``cascade`` at rank sizes ``shape`` on ``spec`` and unfolded
    into its group plans (:func:`mappings.cascade_plan.plan`, ``only`` the group holding that
    Einsum when given; raises its :class:`MappingError`)."""
    facts, shapes = _point(cascade, tuple(shape.items()))
    return Planned(facts, shapes, mapping, spec, plan(facts, shape, mapping, spec, only=only, shapes=shapes))


def graph(p: Planned, stage_dram: bool = False) -> TaskGraph:
    """The task graph of :class:`Planned` ``p`` (``stage_dram``: as :func:`lower`'s)."""
    return _graph(p.facts, p.mapping, p.spec, p.plans, p.shapes, stage_dram)


def dram_cycles(p: Planned) -> int:
    """Cycles the DRAM channel is busy moving the tiles of :class:`Planned` ``p``: every load and
    store of every group, each instance :func:`transfer_cycles` of its bytes. A lower bound on
    the cycles of its task graph on either engine (the channel moves one tile at a time), known
    before the graph is built."""
    dram = _Dram(p.spec, False)
    return sum(_transfer_cycles(t, dram) * t.instances for gp in p.plans for t in gp.transfers)


def cost_group(cascade, shape: dict, mapping, spec, einsum: str):
    """(cycles, energy_pj) of the group holding ``einsum`` alone (groups are separated by
    barriers, so a cascade's cycles are the sum over its groups): the analytical engine on
    that group's phases. For the mapper."""
    from sim.analytical import run

    report = run(graph(planned(cascade, shape, mapping, spec, only=einsum)))
    return report.cycles, report.energy_pj


@lru_cache(maxsize=8)
def _point(cascade, shape_items: tuple) -> tuple:
    """(:class:`~mappings.cascade_facts.CascadeFacts`, Einsum shapes) of ``cascade`` at rank sizes
    ``shape_items`` ((rank, size) pairs): once per point for every mapping lowered there
    (FLAT's two files, the mapper's candidates); neither is changed by a lowering."""
    shape = dict(shape_items)
    sizes = cascade.rank_sizes(shape)
    return CascadeFacts(cascade, sizes), shapes_from_cascade(cascade, shape, sizes)


def _graph(cascade, mapping, spec, plans, shapes, stage_dram=False) -> TaskGraph:
    """The task graph of ``plans``; ``cascade``: its :class:`~mappings.cascade_facts.CascadeFacts`."""
    units = {"dram": 1}
    dram = _Dram(spec, stage_dram)
    rates = {}   # unit name -> its _UnitRates, read from the spec once per graph
    phases = []
    for gp in plans:
        group = _group_of(mapping.fusion, gp.einsums, gp.buffer)
        glb = spec.storage[gp.buffer]
        loads = _loads(gp.transfers)
        placed = {}
        for p in gp.placements:   # GroupPlan.of: the first placement of each Einsum
            placed.setdefault(p.einsum, p)
        tasks = []
        for st in _issue_order(gp, group.einsums):
            unit = rates.get(st.unit)
            if unit is None:
                unit = rates[st.unit] = _unit_rates_of(spec, st.unit, mapping.op_issue)
                units[st.unit] = spec.compute[st.unit].pes
            tasks.append(_compute_task(st, shapes[st.einsum], cascade.einsum(st.einsum), placed[st.einsum], unit,
                                       mapping, gp, glb, dram.word_bytes, cascade, loads))
        stage = {st.einsum: st.stage for st in gp.steps}
        tasks += [_transfer_task(t, stage[t.einsum], glb, dram) for t in gp.transfers]
        phases += laid_out(gp, group.sync, tasks)
    # every task runs on a unit named here, and none holds buffer bytes
    return TaskGraph.lowered(tuple(phases), units, spec.clock_hz,
                             {"einsums": [e.name for e in cascade.einsums], "groups": [list(g.einsums) for g in plans]})


@lru_cache(maxsize=1024)
def _group_of(fusion: tuple, einsums: tuple, buffer) -> Group:
    """The group of ``fusion`` (a mapping's fusion groups) whose Einsums are ``einsums`` (an
    Einsum in no group: a group of one at ``buffer``)."""
    return next((g for g in fusion if set(g.einsums) == set(einsums)), Group(einsums, buffer or ""))


def _issue_order(gp, listed: tuple) -> list:
    """The group's steps in the order its fusion group lists its Einsums (``listed``): the
    program order in which each in-order unit issues them within an iteration (cascade order
    when the group is not listed)."""
    return sorted(gp.steps, key=lambda st: listed.index(st.einsum))


def _loads(transfers) -> dict:
    """tensor -> (its load's task name, the Einsums that alone wait for it, or None for every
    reader) of the loads among a group's ``transfers``: a spilled tile comes back for its
    named consumer only."""
    out = {}
    for t in transfers:
        if t.kind == "load":
            readers = out[t.tensor][1] if t.tensor in out else frozenset()
            out[t.tensor] = (f"load.{t.tensor}", None if not t.spilled or readers is None else readers | {t.einsum})
    return out


ALU_OPS = ("mac", "mul", "add", "sub")
CMP_OPS = ("max", "min", "cmp")


def functional_unit(unit, op: str) -> str:
    """The functional unit of a PE of ``unit`` that issues ``op``: the multiply-add datapath
    (``alu``: mac, mul, add, sub, and exp when the spec gives exp an issue interval above one
    cycle, i.e. exp evaluated as sequential MACs), a dedicated exp unit when exp issues every
    cycle, the comparator (``cmp``: max, min, cmp), or a unit of the op's own (div, copy)."""
    if op in ALU_OPS:
        return "alu"
    if op == "exp":
        return "exp" if unit.operators["exp"].cycles <= 1 else "alu"
    if op in CMP_OPS:
        return "cmp"
    return op


def issue_cycles(op_counts: dict, unit, op_issue: str = "serial") -> float:
    """Issue cycles of ``op_counts`` (op -> count) on one PE of ``unit``.

    ``serial``: the sum over ops of count x issue cycles. ``functional_units``: ops on
    different functional units (:func:`functional_unit`) overlap, ops on one unit serialise:
    the largest per-unit sum.
    """
    return _issue(op_counts.items(), _issue_table(unit, op_issue))


def _issue_table(unit, op_issue: str) -> dict:
    """op -> (the functional unit that issues it under ``op_issue``, its issue cycles) for
    every operator of ``unit`` (one functional unit, ``all``, when ``serial``)."""
    return {op: ("all" if op_issue == "serial" else functional_unit(unit, op), o.cycles)
            for op, o in unit.operators.items()}


def _issue(counts, table: dict) -> float:
    """:func:`issue_cycles` of ``counts`` ((op, count) pairs) with the unit's :func:`_issue_table`."""
    per_fu = {}
    for op, n in counts:
        if n:
            fu, cycles = table[op]
            per_fu[fu] = per_fu.get(fu, 0) + n * cycles
    return max(per_fu.values(), default=0)


def row_drain(e, placement, unit) -> int:
    """Cycles (after its last issue) for a reduction over the rank spread along a 2D array's
    rows to reach the bottom of the array: the rank's spatial factor (partial sums travel
    down the columns one row per cycle); 0 for any other Einsum (the placement's spatial
    ranks are ranks of ``e``: :func:`mappings.cascade_plan.plan` checks it)."""
    if unit.ndim != 2 or not placement.spatial:
        return 0
    rank, factor = placement.spatial[0]
    return 0 if rank in e.output_ranks else factor


def register_share(register_files: str, placement) -> float:
    """The share of an Einsum's per-PE register-file accesses that is charged: 1 for
    ``every_pe`` (every PE that issues books its own), ``1 / PEs`` for ``one_pe`` (one PE
    instance's accesses, the PEs being the product of the placement's spatial factors)."""
    if register_files == "every_pe":
        return 1.0
    return 1.0 / math.prod([f for _, f in placement.spatial])


class _UnitRates:
    """What pricing and timing an Einsum's tile read of one compute unit of a spec, whatever
    the sizes (:func:`_unit_rates`): ``unit`` (its :class:`~arch.spec.ComputeUnit`), its
    :func:`_issue_table`, and its per-PE storage levels (``registers``, in spec order:
    :func:`sim.cost.register_items`)."""

    __slots__ = ("unit", "issue", "registers")

    def __init__(self, unit, op_issue: str, registers: tuple):
        self.unit, self.registers = unit, registers
        self.issue = MappingProxyType(_issue_table(unit, op_issue))


@lru_cache(maxsize=256)
def _unit_rates(unit, op_issue: str, registers: tuple) -> _UnitRates:
    """The :class:`_UnitRates` of compute ``unit`` under ``op_issue`` with per-PE ``registers``
    (spec objects, which hash and compare by value: equal units of two specs share one)."""
    return _UnitRates(unit, op_issue, registers)


def _unit_rates_of(spec, name: str, op_issue: str) -> _UnitRates:
    """The :func:`_unit_rates` of compute unit ``name`` of ``spec`` under ``op_issue``."""
    registers = tuple([lv for lv in spec.storage.values() if lv.per_pe_of == name])
    return _unit_rates(spec.compute[name], op_issue, registers)


class _Prices:
    """The ``((component, action), pJ)`` of each action a kind of task books, in booking order
    (``rated``, read off a spec once), and the read-only ``(actions, energy_pj)`` of given
    counts of them (:meth:`priced`)."""

    __slots__ = ("rated", "_priced")

    def __init__(self, rated):
        self.rated = tuple(rated)
        self._priced = {}

    def priced(self, counts) -> tuple:
        """``(actions, energy_pj)`` of ``counts[i]`` actions of ``rated[i]`` each
        (:func:`sim.cost.book_counts`: a count of zero books nothing), one pair per value of
        the counts: tasks of points that share their tile sizes share it."""
        key = tuple(counts)
        got = self._priced.get(key)
        if got is None:
            if len(self._priced) >= 256:
                self._priced.clear()
            actions, energy = {}, {}
            book_counts(actions, energy, self.rated, key)
            got = self._priced[key] = (MappingProxyType(actions), MappingProxyType(energy))
        return got


class _EinsumRates(_Prices):
    """What pricing and timing a tile of an Einsum read whatever the sizes (:func:`_einsum_rates`):
    its chain ``latency``, the input references the group's buffer keeps (``kept``, in order)
    and its output when kept (``output``, else None), its :func:`register_share` and
    :func:`row_drain`, the operators it uses that its unit has (``ops``, in order),
    the per-point word accesses of its unit's per-PE levels per register-file word
    (``per_word``, one per level), and the prices (:class:`_Prices`) of the actions its tile
    books: its operators, each per-PE level's reads and writes, the buffer's reads and writes
    when the buffer counts accesses."""

    __slots__ = ("latency", "kept", "output", "share", "drain", "ops", "per_word")

    def __init__(self, e, unit: _UnitRates, placement, buffer: str, register_files: str, glb, word_bytes: float):
        bypassed = placement.bypass.get(buffer, ())
        spec_unit = unit.unit
        self.latency = einsum_latency(e, spec_unit)
        self.kept = tuple(ref for ref in e.inputs if ref.name not in bypassed)
        self.output = e.output if e.name not in bypassed else None
        self.share = register_share(register_files, placement)
        self.drain = row_drain(e, placement, spec_unit)
        # an operator it uses that the unit lacks has no count (plan)
        self.ops = ops = tuple([op for op in e.ops if op in spec_unit.operators])
        self.per_word = tuple(word_bytes / lv.access_bytes if lv.access_bytes else 0 for lv in unit.registers)
        rated = [((spec_unit.name, op), spec_unit.energy(op)) for op in ops]
        for lv in (*unit.registers, *((glb,) if glb.access_bytes else ())):
            rated += _reads_writes(lv)
        super().__init__(rated)


def _reads_writes(level) -> list:
    """The rated reads and writes of storage ``level`` (:class:`_Prices`)."""
    return [((level.name, "read"), level.energy("read")), ((level.name, "write"), level.energy("write"))]


@lru_cache(maxsize=64)
def _transfer_prices(kind: str, buffered, pj_per_byte: float) -> _Prices:
    """The :class:`_Prices` of a ``load`` (DRAM bytes read, then ``buffered``'s writes) or a
    ``store`` (DRAM bytes read back and written, then ``buffered``'s reads and writes) whose
    bytes also pass the buffer level ``buffered`` (None: they do not)."""
    dram = [(("dram", "read"), pj_per_byte)] if kind == "load" else [(("dram", "read"), pj_per_byte),
                                                                       (("dram", "write"), pj_per_byte)]
    if buffered is None:
        return _Prices(dram)
    return _Prices(dram + (_reads_writes(buffered)[1:] if kind == "load" else _reads_writes(buffered)))


@lru_cache(maxsize=1024)
def _einsum_rates(e, unit: _UnitRates, placement, buffer: str, register_files: str, glb, word_bytes: float):
    """The :class:`_EinsumRates` of Einsum ``e`` (its facts) placed as ``placement`` on ``unit`` in
    a group whose buffer is ``buffer`` (the spec's level ``glb``), under ``register_files``
    accounting, with words of ``word_bytes``."""
    return _EinsumRates(e, unit, placement, buffer, register_files, glb, word_bytes)


def _compute_task(st, shape, e, placement, unit: _UnitRates, mapping, gp, glb, word_bytes, facts, loads):
    """(stage, task, deps in work space) of one Einsum's instance on ``unit``; ``glb``: the
    group's buffer; ``facts``: the cascade's :class:`~mappings.cascade_facts.CascadeFacts`;
    ``mapping``: the :class:`~mappings.cascade_mapping.CascadeMapping` (its register-file
    accounting, :func:`register_share`; its ``op_issue`` is ``unit``'s); ``loads``: the
    group's :func:`_loads`.

    Priced as :func:`sim.cost.op_items` of its operations, :func:`sim.cost.register_items` of
    its points (:func:`sim.cost.register_accesses`) and :func:`sim.cost.storage_items` of its
    kept tiles' bytes, at the prices read once (:class:`_EinsumRates`)."""
    r = _einsum_rates(e, unit, placement, gp.buffer, mapping.register_files, glb, word_bytes)
    points = shape.points
    op_counts = shape.op_counts
    n = st.instances
    ops = [(op, op_counts[op]) for op in r.ops]
    cpp = _issue(ops, unit.issue) / points if points else 0.0
    counts = [c / n for _, c in ops]
    work = st.work
    steps = dict(work)   # ceil(tile / spatial factor) of each rank (tiles are integers)
    for rank, f in placement.spatial:
        if rank in steps:
            steps[rank] = math.ceil(steps[rank] / f)
    cycles = cycles_of(math.prod(steps.values()) * cpp)
    lat = r.latency
    if st.einsum in gp.recurrent and st.serial > 1:
        cycles = max(cycles, st.serial * lat)
    shared, inputs = points * r.share, len(e.inputs)
    for per in r.per_word:
        counts += register_accesses(inputs, shared, per, n)
    if glb.access_bytes:
        read = 0
        for ref in r.kept:
            read += facts.words(ref, work)
        written = facts.words(r.output, work) if r.output is not None else 0
        counts += (read * word_bytes / glb.access_bytes, written * word_bytes / glb.access_bytes)
    actions, energy = r.priced(counts)
    deps = [(p, 0) for p in st.reads]
    deps += st.carried
    for x in e.input_tensors:
        if x in loads and (loads[x][1] is None or st.einsum in loads[x][1]):
            deps.append((loads[x][0], 0))
    task = Task.trusted(st.einsum, st.unit, cycles, max(0, lat - cycles) + r.drain,
                        actions, energy, points * cpp / n, st.every, st.offset)
    return st.stage, task, deps


class _Dram:
    """What a graph's transfers read of ``spec`` once: the word, the DRAM channel's bytes per
    cycle, pJ per byte and latency; ``staged``: every DRAM byte also passes the buffer."""

    __slots__ = ("word_bytes", "bw", "pj", "latency", "staged")

    def __init__(self, spec, staged: bool):
        self.word_bytes = spec.word_bits / 8
        self.bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
        self.pj = spec.dram.pj_per_byte
        self.latency = spec.dram.latency_cycles
        self.staged = staged


def _transfer_cycles(t, dram: _Dram) -> int:
    """Cycles the DRAM channel is busy with one instance of transfer ``t`` (its tile's bytes and
    the partial sums read back)."""
    return transfer_cycles(t.words * dram.word_bytes + t.readback_words * dram.word_bytes, dram.bw)


def _transfer_task(t, stage: int, glb, dram: _Dram):
    """(stage, task, deps in work space) of transfer ``t`` of a group whose buffer is ``glb``,
    its Einsum at ``stage``. Priced as :func:`sim.cost.dram_items` of its bytes, and
    :func:`sim.cost.storage_items` of them when they pass the buffer (kept, or staged)."""
    moved = t.words * dram.word_bytes
    back = t.readback_words * dram.word_bytes
    buffered = glb if t.kept or dram.staged else None
    prices = _transfer_prices(t.kind, buffered, dram.pj)
    if t.kind == "load":
        counts = (moved, moved / glb.access_bytes) if buffered is not None else (moved,)
        deps = [(t.einsum, t.every + 1)] + [(f"store.{t.tensor}", 0)] * t.spilled
    else:
        counts = ((back, moved, moved / glb.access_bytes, back / glb.access_bytes) if buffered is not None
                  else (back, moved))
        deps = [(t.einsum, 0)]
    actions, energy = prices.priced(counts)
    # A result is written back two iterations after it is computed (STORE_TRAIL), so a
    # result that finishes late in its iteration never holds up the in-order channel in front
    # of the loads of the next iterations. A spilled tile goes out one stage after its
    # producer and comes back one stage ahead of its consumer (Group.spill).
    if t.kind == "store":
        stage += 1 if t.spilled else STORE_TRAIL
    elif stage > 0:
        stage -= 1
    task = Task.trusted(f"{t.kind}.{t.tensor}", "dram", _transfer_cycles(t, dram),
                        dram.latency if t.kind == "load" else 0, actions, energy, None, t.every, t.offset)
    return stage, task, deps
