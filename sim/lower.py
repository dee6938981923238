"""Generic lowering: mapped Einsums on a spatial PE array into a task graph of tile steps.

In hardware terms: the outermost on-chip buffer (the global buffer) holds one tile of every
tensor at a time; for each tile the DRAM channel brings in the inputs (and takes out the
results), then the PE array works through the tile, ``spatial`` PEs at a time, one iteration
point per PE per ``cycles per point``. Transfers and computes are double buffered: the load of
tile ``i`` may run while tile ``i - 1`` computes, and must wait until tile ``i - 2`` has freed
its slot (a :class:`~sim.taskgraph.Dep` of distance 2).

Counting (per Einsum; words are ``word_bits`` wide, accesses ``access_bytes`` wide):

- DRAM: a tensor is re-fetched once per iteration of every tile loop over a rank that does not
  index it and that runs *outside* the innermost loop over a rank that does (loops inside it
  leave the tile resident): ``words * refetch``. An output re-fetched ``F`` times is written
  ``F`` times and read back ``F - 1`` times (partial sums). Tensors passed between Einsums of one
  fusion group stay on chip and cost no DRAM traffic.
- Global buffer: every DRAM byte is written into it (inputs) or read out of it (outputs); the
  array reads each input tile once per step of the same loop rule applied to the steps inside a
  tile (an element used by many PEs at once is read once: multicast), and reads/writes partial
  outputs likewise.
- Register file (a per-PE level of the unit, when the spec has one): each iteration point reads
  each input operand once and writes the output once.
- Compute: the Einsum's exact operation counts by class, at the unit's pJ per operation. A
  tile's compute takes ``ceil(steps * cycles per point)`` cycles, where steps is the product
  over ranks of ``ceil(tile / spatial factor)``, or longer when the global buffer has a
  bandwidth limit (``bw_bytes_per_cycle`` or ``ports``) and the tile's buffer traffic needs more.

Edge tiles (remainders) form their own phases (at most two tile sizes per rank), so every count
is exact; each tile's share of the traffic and accesses is proportional to its iteration
points. One transfer task per tile moves both its inputs and the previous results (the DRAM
channel's busy time is exact; which tile a write belongs to is shifted by one). Einsums run one
after the other (a barrier between them); cross-Einsum pipelining is the business of dedicated
lowerings such as the attention one.

:class:`CostBounds` gives lower bounds of :func:`cost` for whole arrays of candidate mappings
(numpy), which the mapper uses to skip candidates that cannot beat the best it has found.
Both price through the same two functions, on numbers or on arrays: :func:`tensor_costs` (one
tensor's DRAM and buffer traffic) and :func:`fixed_costs` (per-PE levels and operations), which
book through :mod:`sim.cost`.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from mappings.mapper import CostModel
from mappings.mapping import (EinsumMapping, EinsumShape, Mapping, buffer_levels, check, gemm_shape,
                              on_chip_tensors)
from sim.analytical import phase_cycles
from sim.cost import (GUARD, access_costs, book, cycles_of, dram_bytes, dram_transfer, op_costs, register_costs,
                      transfer_cycles)
from sim.taskgraph import Dep, Phase, Task, TaskGraph

__all__ = ["lower", "lower_einsum", "cost", "ANALYTICAL", "cost_mapping", "refetch", "gemm_einsum", "CostBounds", "cost_bounds",
           "traffic", "tensor_costs", "fixed_costs"]

gemm_einsum = gemm_shape


def refetch(order, counts, tensor_ranks) -> int:
    """Times a tensor's tile is brought in by loops ``order`` (outermost first) of ``counts``.

    Loops over ranks that do not index the tensor multiply the count only when they run outside
    the innermost loop over a rank that does.
    """
    inner = -1
    for i, r in enumerate(order):
        if r in tensor_ranks and counts.get(r, 1) > 1:
            inner = i
    f = 1
    for r in (order[: inner + 1] if inner >= 0 else ()):
        if r not in tensor_ranks:
            f *= counts.get(r, 1)
    return f


def _classes(sizes: dict, extents: dict):
    """(number of tiles, extents) of each tile class: full and remainder tiles of every rank."""
    per_rank = []
    for r, n in sizes.items():
        e = extents[r]
        full, rem = divmod(n, e)
        opts = [(full, e)] if full else []
        if rem:
            opts.append((1, rem))
        per_rank.append([(r, c, x) for c, x in opts])
    for combo in itertools.product(*per_rank):
        yield math.prod(c for _, c, _ in combo), {r: x for r, _, x in combo}


def traffic(words, f, g, is_out: bool, off_chip: bool, word_bytes: float, access_bytes: float):
    """One tensor's data movement from its refetch factors (the module docstring's rules).

    ``f``: DRAM refetches (tile loops), ``g``: buffer refetches (steps inside a tile); numbers
    or numpy arrays of candidates. Returns ``(dram_read_bytes, dram_write_bytes,
    buffer_reads, buffer_writes)``, the buffer's in accesses of ``access_bytes``, counting
    both the array's accesses and the DRAM fills and drains that pass through the buffer.
    """
    rd = words * (f - 1 if is_out else f) * word_bytes if off_chip else 0
    wr = words * f * word_bytes if is_out and off_chip else 0
    reads = words * f * (g - 1 if is_out else g) * word_bytes / access_bytes + wr / access_bytes
    writes = (words * f * g * word_bytes / access_bytes if is_out else 0) + rd / access_bytes
    return rd, wr, reads, writes


def tensor_costs(words, f, g, is_out: bool, off_chip: bool, word_bytes: float, glb, dram_pj: float) -> tuple:
    """``(actions, energy_pj)`` of one tensor's data movement (:func:`traffic`), priced by
    :mod:`sim.cost`: DRAM bytes and global-buffer accesses (``glb`` a spec storage level, or
    None for no shared buffer: DRAM only). Numbers or numpy arrays of candidates, as
    :func:`traffic`."""
    rd, wr, reads, writes = traffic(words, f, g, is_out, off_chip, word_bytes,
                                    glb.access_bytes if glb is not None else 1)
    actions, energy = dram_transfer(rd, wr, dram_pj)
    if glb is not None:
        book(actions, energy, access_costs(glb, reads, writes))
    return actions, energy


def fixed_costs(spec, shape: EinsumShape, unit: str) -> tuple:
    """What no tiling changes: per-PE level accesses and operations (:mod:`sim.cost`).

    Returns ``(actions, energy_pj, op_cycles)``: the priced pair, and the issue cycles of all
    operations on ``unit``."""
    cu = spec.compute[unit]
    actions, energy = register_costs(spec, unit, len(shape.inputs), shape.points)
    book(actions, energy, op_costs(cu, shape.op_counts))
    op_cycles = sum(n * cu.operators[op].cycles for op, n in shape.op_counts.items() if n)
    return actions, energy, op_cycles


def _totals(spec, shape: EinsumShape, m: EinsumMapping, on_chip: set):
    """Whole-Einsum action counts (closed form); see the module docstring."""
    levels = buffer_levels(spec, m.unit)
    shared = [lv for lv in levels if spec.storage[lv].per_pe_of is None]
    glb = spec.storage[shared[0]] if shared else None
    ext = m.tile(shared[0], shape, levels) if shared else dict(shape.ranks)
    order = m.loop_order or tuple(shape.ranks)
    ntiles = {r: math.ceil(shape.ranks[r] / ext[r]) for r in shape.ranks}
    steps = {r: math.ceil(ext[r] / m.spatial_factor(r)) for r in shape.ranks}
    word_bytes = spec.word_bits / 8
    actions, energy = {}, {}
    for t, ranks in shape.tensors.items():
        book(actions, energy, tensor_costs(shape.words(t), refetch(order, ntiles, ranks), refetch(order, steps, ranks),
                                           t == shape.output, t not in on_chip, word_bytes, glb,
                                           spec.dram.pj_per_byte))
    fixed_actions, fixed_energy, op_cycles = fixed_costs(spec, shape, m.unit)
    book(actions, energy, (fixed_actions, fixed_energy))
    points = shape.points
    return actions, energy, ext, op_cycles / points if points else 0.0


def _plan(spec, shape: EinsumShape, m: EinsumMapping, on_chip=frozenset()):
    """Totals plus, per tile class: (tiles, share of the points, load cycles, compute cycles,
    useful PE-cycles per tile)."""
    actions, energy, ext, cpp = _totals(spec, shape, m, on_chip)
    points = shape.points
    bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
    dram = dram_bytes(actions)
    # A buffer with a bandwidth limit throttles the array: a tile's compute takes at least
    # its buffer bytes over that bandwidth.
    shared = [lv for lv in spec.storage.values() if lv.per_pe_of is None]
    glb = shared[0] if shared else None
    glb_bytes = 0.0
    if glb is not None and glb.bw_bytes_per_cycle:
        glb_bytes = sum(v for a, v in actions.items() if a[0] == glb.name) * glb.access_bytes
    classes = []
    for count, tile_ext in _classes(dict(shape.ranks), ext):
        tile_points = math.prod(tile_ext.values())
        share = tile_points / points
        steps = math.prod(math.ceil(tile_ext[r] / m.spatial_factor(r)) for r in shape.ranks)
        load = transfer_cycles(dram * share, bw) if dram else None
        compute = steps * cpp
        if glb_bytes:
            compute = max(compute, glb_bytes * share / glb.bw_bytes_per_cycle)
        classes.append((count, share, load, cycles_of(compute), tile_points * cpp))
    return actions, energy, classes


def _tile_phase(name: str, count: int, load, latency: int, compute: int, unit: str, dram_actions=None,
                dram_energy=None, actions=None, energy=None, useful=None) -> Phase:
    """One tile class as a phase: a double-buffered DRAM transfer (``load`` cycles, ``latency``;
    None: no transfer) feeding the compute of ``unit`` (``compute`` cycles), ``count`` times.
    The load of tile ``i`` waits until the compute of tile ``i - 2`` has freed its slot."""
    tasks = []
    if load is not None:
        tasks.append(Task("load", "dram", load, latency=latency, deps=(Dep("compute", 2),),
                          actions=dram_actions or {}, energy_pj=dram_energy or {}))
    tasks.append(Task("compute", unit, compute, deps=(Dep("load", 0),) if load is not None else (),
                      actions=actions or {}, energy_pj=energy or {}, active_pe_cycles=useful))
    return Phase(name, tuple(tasks), count)


def lower_einsum(spec, shape: EinsumShape, m: EinsumMapping, on_chip: set = frozenset()) -> list:
    """Phases of one mapped Einsum (one per tile class); ``on_chip`` tensors skip DRAM."""
    actions, energy, classes = _plan(spec, shape, m, on_chip)
    is_dram = {a: a[0] == "dram" for a in actions}
    phases = []
    for k, (count, share, load, compute, useful) in enumerate(classes):
        phases.append(_tile_phase(
            f"{shape.name}.{k}", count, load, spec.dram.latency_cycles, compute, m.unit,
            dram_actions={a: v * share for a, v in actions.items() if is_dram[a]},
            dram_energy={a: v * share for a, v in energy.items() if is_dram[a]},
            actions={a: v * share for a, v in actions.items() if not is_dram[a]},
            energy={a: v * share for a, v in energy.items() if not is_dram[a]}, useful=useful))
    return phases


def lower(spec, shapes, mapping, check_first: bool = True) -> TaskGraph:
    """Lower mapped Einsums into a :class:`TaskGraph`.

    Parameters
    ----------
    spec : arch.spec.SpatialSpec
    shapes : EinsumShape or mapping name -> EinsumShape
        The Einsums in execution order.
    mapping : EinsumMapping or Mapping
    check_first : bool
        Validate the mapping (:func:`mappings.mapping.check`) before lowering.
    """
    if isinstance(shapes, EinsumShape):
        shapes = {shapes.name: shapes}
    if isinstance(mapping, EinsumMapping):
        mapping = Mapping((mapping,))
    if check_first:
        check(mapping, shapes, spec)
    phases, units = [], {"dram": 1}
    for name, shape in shapes.items():
        m = mapping.of(name)
        phases += lower_einsum(spec, shape, m, on_chip_tensors(shapes, name, mapping.group_of(name)))
        units[m.unit] = spec.compute[m.unit].pes
    return TaskGraph(tuple(phases), units, spec.clock_hz, meta={"einsums": list(shapes)})


def cost(spec, shape: EinsumShape, m: EinsumMapping, on_chip=frozenset()):
    """(cycles, energy_pj) of one mapped Einsum, without building its whole task graph.

    The cycles are those of the analytical engine (:func:`sim.analytical.phase_cycles`) on the
    timing of the phases :func:`lower_einsum` builds (the same :func:`_tile_phase`, without
    action counts), and so those of the discrete-event engine: a phase of ``n`` tiles with load
    ``L`` (DRAM latency ``lat``) and compute ``C`` cycles runs at ``max(L, C, (L + lat + C) / 2)``
    cycles per tile in its steady state. The mapper calls this for every candidate its bounds
    (:class:`CostBounds`) cannot rule out.
    """
    _, energy, classes = _plan(spec, shape, m, on_chip)
    lat = spec.dram.latency_cycles
    cycles = 0
    for n, _, load, comp, _ in classes:
        cycles += _tile_cycles(n, load, lat, comp)
    return cycles, float(sum(energy.values()))


@functools.lru_cache(maxsize=65536)
def _tile_cycles(count: int, load, latency: int, compute: int) -> int:
    """Cycles of :func:`_tile_phase` (which unit computes does not change them)."""
    return phase_cycles(_tile_phase("tile", count, load, latency, compute, "compute"))


def cost_mapping(spec, shapes, mapping: Mapping):
    """(cycles, energy_pj) of a whole mapped cascade, without building the task graph.

    The sum of :func:`cost` over the Einsums (they are separated by barriers), each knowing the
    tensors its fusion group keeps on chip: equal to ``run(lower(spec, shapes, mapping))``.
    No validity check.
    """
    cycles, energy = 0, 0.0
    for name, shape in shapes.items():
        c, e = cost(spec, shape, mapping.of(name), on_chip_tensors(shapes, name, mapping.group_of(name)))
        cycles += c
        energy += e
    return cycles, energy


class CostBounds:
    """Lower bounds of :func:`cost` for whole arrays of candidate mappings of one Einsum on one unit.

    The mapper prunes with them: no candidate costs less than its bound, so candidates whose
    bound is already worse than the best mapping found need no costing. The energy is priced by
    the functions :func:`_totals` prices with (:func:`tensor_costs`, :func:`fixed_costs`) and the
    cycles are those of :func:`_plan` and :func:`cost`, evaluated with numpy
    over many candidates at once; every rounded quantity is shrunk by a relative ``SLACK`` before
    its ceiling so that a different order of float additions can never lift a bound above the
    cost. Candidates tile the outermost on-chip buffer only (the mapper's search space).

    Built by :func:`cost_bounds`, which returns None where the bounds do not apply (no shared
    buffer, an empty Einsum, more than ``MAX_RANKS`` ranks).
    """

    SLACK = 1e-12
    MAX_RANKS = 7

    def __init__(self, spec, shape: EinsumShape, unit: str, on_chip=frozenset()):
        shared = [lv for lv in buffer_levels(spec, unit) if spec.storage[lv].per_pe_of is None]
        self.ranks = tuple(shape.ranks)
        self.sizes = np.array([shape.ranks[r] for r in self.ranks], dtype=np.int64)
        self.points = shape.points
        self.word_bytes = spec.word_bits / 8
        self.glb = spec.storage[shared[0]]
        self.dram_pj = spec.dram.pj_per_byte
        self.bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
        self.lat = spec.dram.latency_cycles
        # (indexing mask over ranks, words, is output, leaves the chip) per tensor
        self.tensors = [(np.array([r in ranks for r in self.ranks]), shape.words(t), t == shape.output,
                         t not in on_chip) for t, ranks in shape.tensors.items()]
        _, fixed_energy, op_cycles = fixed_costs(spec, shape, unit)
        self.fixed_pj = sum(fixed_energy.values())
        self.cpp = op_cycles / self.points

    def _traffic(self, fs, gs):
        """(energy_pj, DRAM bytes, global-buffer bytes) from per-tensor refetch factors."""
        energy, dram, glb_acc = self.fixed_pj, 0.0, 0.0
        for (_, words, is_out, off_chip), f, g in zip(self.tensors, fs, gs):
            actions, priced = tensor_costs(words, f, g, is_out, off_chip, self.word_bytes, self.glb, self.dram_pj)
            dram = dram + dram_bytes(actions)
            energy = energy + sum(priced.values())
            glb_acc = glb_acc + sum(n for (comp, _), n in actions.items() if comp == self.glb.name)
        return energy, dram, glb_acc * self.glb.access_bytes

    def _shrink(self, x):
        return x * (1 - self.SLACK)

    def spatial(self, factors: dict) -> tuple:
        """(cycles, energy_pj) no mapping with these spatial factors (rank -> PEs) goes below,
        whatever its tiles and loop order: every tensor moved once, every PE step taken."""
        steps = math.prod(-(-int(n) // factors.get(r, 1)) for r, n in zip(self.ranks, self.sizes))
        ones = [1] * len(self.tensors)
        energy, dram, _ = self._traffic(ones, ones)
        # Each tile's ceilings lose at most GUARD cycle; there are at most ``steps`` tiles.
        work = max(self.cpp * steps, dram / self.bw if dram else 0.0) - GUARD * steps
        cycles = max(0, math.ceil(self._shrink(work))) + (self.lat if dram else 0)
        return cycles, self._shrink(energy)

    @staticmethod
    def _refetch(pos, counts, mask):
        """:func:`refetch` over arrays: ``pos`` (N x R) loop positions, ``counts`` (N x R)."""
        inner = np.where(counts[:, mask] > 1, pos[:, mask], -1).max(axis=1) if mask.any() else \
            np.full(len(pos), -1)
        f = np.ones(len(pos))
        for r in np.flatnonzero(~mask):
            f *= np.where(pos[:, r] < inner, counts[:, r], 1)
        return f

    def candidates(self, factors: dict, tiles, pos, tile_of=None) -> tuple:
        """Lower bounds (cycles array, energy_pj array) of candidates with spatial ``factors``
        (rank -> PEs), outermost-buffer ``tiles`` (T x R ints, ranks in the Einsum's order) and
        loop orders given as ``pos`` (N x R: the position of each rank, 0 outermost); candidate
        ``i`` has the tiles of row ``tile_of[i]`` (default: row ``i``)."""
        s = np.array([factors.get(r, 1) for r in self.ranks], dtype=np.int64)
        n = self.sizes
        tiles = np.asarray(tiles, dtype=np.int64)
        tile_of = np.arange(len(pos)) if tile_of is None else tile_of
        ntiles, steps = (-(-n // tiles))[tile_of], (-(-tiles // s))[tile_of]
        fs = [self._refetch(pos, ntiles, mask) for mask, *_ in self.tensors]
        gs = [self._refetch(pos, steps, mask) for mask, *_ in self.tensors]
        energy, dram, glb_bytes = self._traffic(fs, gs)
        energy = np.broadcast_to(np.asarray(energy, dtype=float), (len(pos),))
        dram = np.broadcast_to(np.asarray(dram, dtype=float), (len(pos),))[:, None]
        # Tile classes (full or remainder along each rank) of every tile set: T x C.
        bits = np.array(list(itertools.product((False, True), repeat=len(self.ranks))))[None]
        full, rem = (n // tiles)[:, None, :], (n % tiles)[:, None, :]
        ext = np.where(bits, rem, tiles[:, None, :])
        count = np.where(bits, rem > 0, full).prod(axis=2).astype(float)[tile_of]
        share = (ext.prod(axis=2) / self.points)[tile_of]
        tile_steps = (-(-ext // s)).prod(axis=2).astype(float)[tile_of]
        load = cycles_of(self._shrink(dram * share / self.bw))
        compute = tile_steps * self.cpp
        if self.glb.bw_bytes_per_cycle:
            compute = np.maximum(compute, glb_bytes[:, None] * share / self.glb.bw_bytes_per_cycle)
        comp = cycles_of(self._shrink(compute))
        # the load stream, the compute stream, and the buffer-slot recurrence: the compute of
        # tile i ends at least L + lat + C after that of tile i - 2 (two slots)
        both = np.maximum(np.maximum(count * load + self.lat + comp, load + self.lat + count * comp),
                          np.ceil(count / 2) * (load + self.lat + comp))
        cycles = np.where(count > 0, np.where(dram > 0, both, count * comp), 0).sum(axis=1)
        return cycles, self._shrink(energy)


def cost_bounds(spec, shape: EinsumShape, unit: str, on_chip=frozenset()):
    """:class:`CostBounds` of ``shape`` on ``unit``, or None where they do not apply."""
    levels = buffer_levels(spec, unit)
    if not any(spec.storage[lv].per_pe_of is None for lv in levels) or not shape.points \
            or len(shape.ranks) > CostBounds.MAX_RANKS:
        return None
    return CostBounds(spec, shape, unit, on_chip)


#: The analytical cost model the mapper searches with: :func:`cost`, pruned by :func:`cost_bounds`.
ANALYTICAL = CostModel(cost, cost_bounds)
