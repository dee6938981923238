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
  previous set has issued, the first set for the last one an iteration back (:func:`_synced`);
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
"""

from __future__ import annotations

import math
from functools import lru_cache

from mappings.cascade_mapping import Group
from mappings.cascade_plan import CascadeFacts, einsum_latency, plan
from mappings.mapping import shapes_from_cascade
from sim.cost import book, cycles_of, dram_transfer, op_costs, register_costs, storage_traffic, transfer_cycles
from sim.taskgraph import Dep, Phase, Task, TaskGraph

__all__ = ["lower", "cost_group", "STORE_TRAIL", "issue_cycles", "functional_unit", "row_drain", "register_share"]

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
    shapes = shapes_from_cascade(cascade, shape)
    facts = CascadeFacts(cascade, cascade.rank_sizes(shape))
    return _graph(facts, shape, mapping, spec, plan(facts, shape, mapping, spec, shapes=shapes), shapes,
                  stage_dram)


def cost_group(cascade, shape: dict, mapping, spec, einsum: str):
    """(cycles, energy_pj) of the group holding ``einsum`` alone (groups are separated by
    barriers, so a cascade's cycles are the sum over its groups): the analytical engine on
    that group's phases. For the mapper."""
    from sim.analytical import run

    shapes = shapes_from_cascade(cascade, shape)
    facts = CascadeFacts(cascade, cascade.rank_sizes(shape))
    report = run(_graph(facts, shape, mapping, spec, plan(facts, shape, mapping, spec, only=einsum, shapes=shapes),
                        shapes))
    return report.cycles, report.energy_pj


def _graph(cascade, shape, mapping, spec, plans, shapes, stage_dram=False) -> TaskGraph:
    """The task graph of ``plans``; ``cascade``: its :class:`~mappings.cascade_plan.CascadeFacts`."""
    units = {"dram": 1}
    phases = []
    for gp in plans:
        tasks = []
        for st in _issue_order(gp, mapping):
            units[st.unit] = spec.compute[st.unit].pes
            tasks.append(_compute_task(st, shapes[st.einsum], cascade.einsum(st.einsum), gp.of(st.einsum),
                                       gp, spec, cascade, mapping))
        tasks += [_transfer_task(t, gp, spec, stage_dram) for t in gp.transfers]
        phases += _phases(gp, _synced(_group_of(gp, mapping).sync, tasks))
    return TaskGraph(tuple(phases), units, spec.clock_hz,
                     meta={"einsums": [e.name for e in cascade.einsums], "groups": [list(g.einsums) for g in plans]})


def _group_of(gp, mapping):
    """The fusion group of ``mapping`` that ``gp`` plans (an Einsum in no group: a group of one)."""
    return next((g for g in mapping.fusion if set(g.einsums) == set(gp.einsums)), Group(gp.einsums, gp.buffer or ""))


def _issue_order(gp, mapping) -> list:
    """The group's steps in the order its fusion group lists its Einsums: the program order
    in which each in-order unit issues them within an iteration (cascade order when the
    group is not listed)."""
    listed = _group_of(gp, mapping).einsums
    return sorted(gp.steps, key=lambda st: listed.index(st.einsum))


def _synced(sync: tuple, tasks: list) -> list:
    """``tasks`` (stage, task, deps in work space) with the waits of the group's lock-step
    sets (``sync``): in each iteration of the steady state every task of a set waits until
    every task of the previous set has issued (its unit released; its result is awaited only
    through the data flow), and the first set for the last set one iteration back. The wait
    for a task whose result trails its issue (``latency``) is on a zero-cycle marker,
    ``<task>.issued``, that its unit issues right after it. A task at stage ``s`` waiting for
    one at stage ``s'`` in the same steady iteration reads work ``s' - s`` iterations back
    (negative when the awaited task is at an earlier stage)."""
    if len(sync) < 2:
        return tasks
    stage = {t.name: s for s, t, _ in tasks}
    latency = {t.name: t.latency for _, t, _ in tasks}
    waits = {}
    for s, t, deps in tasks:
        k = next((i for i, members in enumerate(sync) if t.name in members), None)
        if k is not None:
            back = 1 if k == 0 else 0
            # a wait for a result already awaited through the data flow says nothing more
            waits[t.name] = [(a, back + stage[a] - s) for a in sync[k - 1]
                             if a in stage and (a, back + stage[a] - s) not in deps]
    marked = {a for ws in waits.values() for a, _ in ws if latency[a]}
    out = []
    for s, t, deps in tasks:
        out.append((s, t, deps + [(f"{a}.issued" if a in marked else a, d) for a, d in waits.get(t.name, ())]))
        if t.name in marked:
            out.append((s, Task(f"{t.name}.issued", t.unit, 0, every=t.every, offset=t.offset), []))
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
    per_fu = {}
    for op, n in op_counts.items():
        if n:
            fu = "all" if op_issue == "serial" else functional_unit(unit, op)
            per_fu[fu] = per_fu.get(fu, 0) + n * unit.operators[op].cycles
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
    return 1.0 / math.prod(f for _, f in placement.spatial)


def _compute_task(st, shape, e, placement, gp, spec, facts, mapping):
    """(stage, task, deps in work space) of one Einsum's instance; ``facts``: the cascade's
    :class:`~mappings.cascade_plan.CascadeFacts`; ``mapping``: the
    :class:`~mappings.cascade_mapping.CascadeMapping` (its ``op_issue``, :func:`issue_cycles`,
    and its register-file accounting, :func:`register_share`)."""
    unit = spec.compute[st.unit]
    sf = dict(placement.spatial)
    points = shape.points
    cpp = issue_cycles(shape.op_counts, unit, mapping.op_issue) / points if points else 0.0
    pe_steps = math.prod(math.ceil(w / sf.get(r, 1)) for r, w in st.work.items())
    cycles = cycles_of(pe_steps * cpp)
    lat = einsum_latency(e, unit)
    drain = row_drain(e, placement, unit)
    if st.einsum in gp.recurrent and st.serial > 1:
        cycles = max(cycles, st.serial * lat)
    n = st.instances
    actions, energy = op_costs(unit, shape.op_counts, instances=n)
    share = register_share(mapping.register_files, placement)
    book(actions, energy, register_costs(spec, st.unit, len(e.inputs), points * share, instances=n))
    word_bytes = spec.word_bits / 8
    glb = spec.storage[gp.buffer]
    if glb.access_bytes:
        read = sum(math.prod(facts.extents(ref, st.work)) for ref in e.inputs if placement.keeps(gp.buffer, ref.name))
        written = math.prod(facts.extents(e.output, st.work)) if placement.keeps(gp.buffer, e.name) else 0
        book(actions, energy, storage_traffic(glb, read * word_bytes, written * word_bytes))
    deps = [(p, 0) for p in st.reads] + list(st.carried)
    deps += [(f"load.{x}", 0) for x in e.input_tensors
             if any(t.kind == "load" and t.tensor == x and (not t.spilled or t.einsum == st.einsum) for t in gp.transfers)]
    task = Task(st.einsum, st.unit, cycles, latency=max(0, lat - cycles) + drain, actions=actions, energy_pj=energy,
                active_pe_cycles=points * cpp / n, every=st.every, offset=st.offset)
    return st.stage, task, deps


def _transfer_task(t, gp, spec, stage_dram=False):
    word_bytes = spec.word_bits / 8
    bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
    glb = spec.storage[gp.buffer]
    pj = spec.dram.pj_per_byte
    moved = t.words * word_bytes
    back = t.readback_words * word_bytes
    if t.kind == "load":
        actions, energy = dram_transfer(moved, 0, pj)
        if t.kept or stage_dram:
            book(actions, energy, storage_traffic(glb, 0, moved))
        deps = [(t.einsum, t.every + 1)] + [(f"store.{t.tensor}", 0)] * t.spilled
    else:
        actions, energy = dram_transfer(back, moved, pj)
        if t.kept or stage_dram:
            book(actions, energy, storage_traffic(glb, moved, back))
        deps = [(t.einsum, 0)]
    # A result is written back two iterations after it is computed (STORE_TRAIL), so a
    # result that finishes late in its iteration never holds up the in-order channel in front
    # of the loads of the next iterations. A spilled tile goes out one stage after its
    # producer and comes back one stage ahead of its consumer (Group.spill).
    stage = next(s.stage for s in gp.steps if s.einsum == t.einsum)
    if t.kind == "store":
        stage += 1 if t.spilled else STORE_TRAIL
    elif stage > 0:
        stage -= 1
    task = Task(f"{t.kind}.{t.tensor}", "dram", transfer_cycles(moved + back, bw),
                latency=spec.dram.latency_cycles if t.kind == "load" else 0,
                actions=actions, energy_pj=energy, every=t.every, offset=t.offset)
    return stage, task, deps


@lru_cache(maxsize=4096)
def _dep(task: str, distance: int) -> Dep:
    """``Dep(task, distance)``, one object per value (it is immutable) for every task naming it."""
    return Dep(task, distance)


def _phases(gp, tasks) -> list:
    """The group's phases: one steady phase, plus a prologue and an epilogue when stages differ."""
    label = "+".join(gp.einsums)
    stage = {t.name: s for s, t, _ in tasks}
    top = max(stage.values())
    n = gp.iterations
    if top == 0 or n <= top:  # no pipelining (or too few iterations to fill it): work order
        return [Phase(label, tuple(t.derive(tuple(_dep(a, d) for a, d in deps if d >= 0 and (a != t.name or d)),
                                            t.every, t.offset)
                                   for _, t, deps in tasks), n)]
    # a task none of whose instances falls in the steady phase (a guarded load of a next block
    # that does not exist) is left out, and a dependency on it is met: the phase's period is
    # then that of the tasks that run
    offset = {t.name: (t.offset - top + s) % t.every for s, t, _ in tasks}
    live = {a for a, o in offset.items() if o < n - top}
    steady = []
    for s, t, deps in tasks:
        if t.name not in live:
            continue
        ds = tuple(_dep(a, max(0, d + s - stage[a])) for a, d in deps
                   if a in live and (a != t.name or d + s - stage[a] > 0))
        steady.append(t.derive(ds, t.every, offset[t.name]))
    # checked: every dependency of a fill or drain phase is one of the steady phase's
    # same-iteration dependencies (a task at work w reading work w - d of a task ``stage[a] - s``
    # stages earlier has d + s - stage[a] = 0), so the edge phases need no check of their own
    steady_phase = Phase(f"{label}.steady", tuple(steady), n - top)
    out = [_edge_phase(f"{label}.prologue{k}", tasks, lambda s, k=k: k - s, n) for k in range(top)]
    out.append(steady_phase)
    out += [_edge_phase(f"{label}.epilogue{k}", tasks, lambda s, k=k: n + k - s, n) for k in range(top)]
    return [p for p in out if p.tasks]


def _edge_phase(name, tasks, work_of, n) -> Phase:
    """One iteration of a pipeline's fill or drain: the tasks whose work index is in range,
    with the dependencies among them (a subset of the checked steady phase's same-iteration
    ones: :func:`_phases`)."""
    chosen = []
    for s, t, deps in tasks:
        w = work_of(s)
        if 0 <= w < n and w % t.every == t.offset:
            chosen.append((s, t, deps, w))
    present = {t.name: w for _, t, _, w in chosen}
    out = []
    for s, t, deps, w in chosen:
        ds = tuple(_dep(a, 0) for a, d in deps if a != t.name and present.get(a) == w - d)
        out.append(t.derive(ds, 1, 0))
    return Phase.trusted(name, tuple(out), 1)
