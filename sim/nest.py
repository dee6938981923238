"""Accesses, energy and cycles of one Einsum mapped onto a memory hierarchy (Timeloop's model).

In hardware terms: for every storage level and tensor, how many words the level reads (to feed
the level below or the MACs), how many it is filled with (from the level above), and how many
partial sums it receives as updates (read-modify-write of the output); totals over all
instances of the level. Then energy (count times the per-access energy, with block-wide
accesses) and cycles (the slowest of the MACs and each level's bandwidth).

Counting rules (Timeloop's, so that the same files give the same numbers):

- A level's *deltas* are the words its tile fetches as the loops above it advance
  (:mod:`sim.reuse`: held across loops over ranks the tensor does not depend on, refetched at
  the wrap of an outer loop, sliding windows fetch only the new edge).
- The next level out that keeps the tensor (bypassed levels skipped) serves those deltas; copies
  under a fan-out whose deltas are identical share one access (multicast for inputs, spatial
  reduction for outputs; :func:`sim.reuse.distinct_copies`). The MACs have no storage: they
  access one word of each tensor at every step.
- Read-only tensor at a level: ``reads`` = words served to the level below; ``fills`` = its
  deltas. Output (read-write) tensor: ``updates`` = partial sums received from below;
  ``reads`` = updates minus the distinct words the instance holds over the run (the first
  update of a word is a write, later ones read-modify-write); ``fills`` = deltas minus those
  distinct words (a partial sum arrives from above only after it has left once).
- Energy: per instance, ``ceil(count / block_words)`` accesses times the per-access energy of
  the action (fills at the write energy), plus the storage levels' leakage per cycle per
  instance the mapping uses; MACs at the compute energy (their leakage is not counted, as in
  Timeloop).
- Cycles: the product of the temporal factors (steps of one MAC), raised by any level whose
  per-instance reads, writes (fills + updates) or both over its read, write or shared
  bandwidth (words per cycle) take longer. No latency, fill or drain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mappings.nest import check, dim_width, keeps
from sim.cost import action_cost
from sim.reuse import box_words, delta_counts, distinct_copies, strides

ACTIONS = ("reads", "fills", "updates")


@dataclass
class NestCounts:
    """What :func:`evaluate` says about one mapped Einsum.

    Attributes
    ----------
    cycles : int
        Timeloop's cycles: the slowest of MAC steps and each level's bandwidth-bound cycles.
    computes : int
        MACs.
    accesses : dict
        level -> tensor -> {"reads", "fills", "updates"}: words, totals over all instances.
    energy_pj_by : dict
        (component, action) -> pJ; actions ``read``, ``fill``, ``update``, ``leak``, ``compute``.
    level_cycles : dict
        level -> cycles its bandwidth needs (the MAC steps when unlimited).
    instances : dict
        component -> instances used by the mapping.
    clock_hz : float
    compute_name : str
    compute_instances : int
        MAC units in the machine (utilization = computes / (cycles * compute_instances)).
    dram_bytes : int
        Words the outermost level reads, is filled with and updates, in bytes.
    """

    cycles: int
    computes: int
    accesses: dict
    energy_pj_by: dict
    level_cycles: dict
    instances: dict
    clock_hz: float
    compute_name: str = ""
    compute_instances: int = 1
    dram_bytes: int = 0

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy_pj_by.values()))

    @property
    def seconds(self) -> float:
        return self.cycles / self.clock_hz

    def energy_by_action(self) -> dict:
        """component -> action -> pJ."""
        out = {}
        for (comp, act), pj in self.energy_pj_by.items():
            out.setdefault(comp, {})[act] = pj
        return out

    def energy_breakdown(self) -> dict:
        """component -> pJ, the breakdown every family's record carries."""
        return {comp: sum(acts.values()) for comp, acts in self.energy_by_action().items()}

    def record(self, **params) -> dict:
        """One record (the project's keys plus ``computes`` and ``accesses``); ``utilization``
        is MACs over (cycles x every MAC unit of the machine), as Timeloop reports it."""
        util = self.computes / (self.cycles * self.compute_instances) if self.cycles else 0.0
        rec = dict(params)
        rec.update(engine="nest", cycles=int(self.cycles), seconds=self.seconds, energy_pj=self.energy_pj,
                   dram_bytes=int(self.dram_bytes), computes=int(self.computes), accesses=self.accesses,
                   energy_breakdown=self.energy_breakdown(), energy_by_action=self.energy_by_action(),
                   utilization={self.compute_name: util})
        return rec


def _partition_words(shape, tensor, loops, i) -> int:
    """Distinct words of ``tensor`` one instance of level ``i`` holds over the whole run."""
    ext = {}
    for lp in loops:
        if lp.level >= i or not lp.spatial:
            ext[lp.rank] = ext.get(lp.rank, 1) * lp.factor
    return math.prod(dim_width(dim, ext) for dim in shape.projection(tensor))


def tensor_counts(shape, nest, tensor, n_levels, loops, stride) -> dict:
    """Per-instance counts of one tensor at every level that keeps it.

    Parameters
    ----------
    shape : mappings.mapping.EinsumShape
    nest : mappings.nest.NestMapping
    tensor : str
    n_levels : int
        Storage levels of the hierarchy (the MACs are level ``n_levels``).
    loops, stride : list
        ``nest.loops()`` and :func:`sim.reuse.strides` of them.

    Returns
    -------
    dict
        level index -> [reads, fills, updates], words per instance of the level.
    """
    dims = shape.projection(tensor)
    rw = tensor == shape.output
    kept = keeps(nest, tensor)
    steps = math.prod(lp.factor for lp in loops if not lp.spatial)
    per = {i: [0, 0, 0] for i in kept}
    chain = kept + [n_levels]  # n_levels stands for the MACs
    for p, i in zip(chain, chain[1:]):
        if i == n_levels:
            deltas = {tuple(1 for _ in dims): steps}
        else:
            widths = tuple(dim_width(dim, nest.extents(i, loops)) for dim in dims)
            above = [k for k, lp in enumerate(loops) if lp.level < i and not lp.spatial]
            deltas = delta_counts(dims, widths, loops, stride, above)
        spread = [k for k, lp in enumerate(loops) if lp.spatial and p <= lp.level < i]
        fetched = sum(n * box_words(box) for box, n in deltas.items())
        served = fetched * distinct_copies(dims, loops, stride, spread)
        if i < n_levels:
            per[i][1] = fetched - _partition_words(shape, tensor, loops, i) if rw else fetched
        if rw:
            per[p][2] = served
            per[p][0] = served - _partition_words(shape, tensor, loops, p)
        else:
            per[p][0] = served
    return per


def _used_instances(loops, i) -> int:
    """Instances of level ``i`` (``len(levels)``: MACs) the mapping uses."""
    return math.prod(lp.factor for lp in loops if lp.spatial and lp.level < i)


def price_counts(hierarchy, per, inst, steps: int, macs) -> tuple:
    """Energy and cycles of per-instance counts, by the module docstring's rules.

    The one pricing of the model: :func:`evaluate` prices its counts with it and
    :class:`sim.nest_bounds.NestCost` its floors, each action through
    :func:`sim.cost.action_cost`.

    Parameters
    ----------
    hierarchy : arch.hierarchy.Hierarchy
    per : sequence of dict
        Per storage level (outermost first): tensor -> (reads, fills, updates), words per
        instance.
    inst : sequence of int
        Instances of each storage level the mapping uses.
    steps : int
        MAC steps (the product of the temporal factors).
    macs : int
        MACs.

    Returns
    -------
    tuple
        ``(cycles, level_cycles, energy_pj_by)``: cycles (int), the cycles each level's
        bandwidth needs (list, outermost first), and (component, action) -> pJ with actions
        ``read``, ``fill``, ``update`` (block-wide accesses of all instances), ``leak``
        (instance-cycles) and ``compute`` (MACs).
    """
    energy, level_cycles = {}, []
    cycles = steps
    for lv, counts, n in zip(hierarchy.levels, per, inst):
        for k, act in enumerate(("read", "fill", "update")):
            blocks = sum(-(-rfu[k] // lv.block_words) for rfu in counts.values())
            energy.update(action_cost(lv, act, blocks * n)[1])
        reads = sum(rfu[0] for rfu in counts.values())
        writes = sum(rfu[1] + rfu[2] for rfu in counts.values())
        need = [steps]
        for words, bw in ((reads, lv.read_bw), (writes, lv.write_bw), (reads + writes, lv.shared_bw)):
            if bw:
                need.append(math.ceil(words / bw))
        level_cycles.append(max(need))
        cycles = max(cycles, level_cycles[-1])
    for lv, n in zip(hierarchy.levels, inst):
        energy.update(action_cost(lv, "leak", cycles * n)[1])
    energy.update(action_cost(hierarchy.compute, "compute", macs)[1])
    return int(cycles), level_cycles, energy


def evaluate(hierarchy, shape, nest) -> NestCounts:
    """Count, price and time one Einsum ``shape`` mapped by ``nest`` onto ``hierarchy``.

    Raises :class:`arch.errors.MappingError` (from :func:`mappings.nest.check`) when the
    mapping cannot run.
    """
    check(nest, shape, hierarchy)
    loops = nest.loops()
    stride = strides(loops)
    n = len(hierarchy.levels)
    steps = math.prod(lp.factor for lp in loops if not lp.spatial)
    per = {lv.name: {} for lv in hierarchy.levels}
    for t in shape.tensors:
        for i, (r, f, u) in tensor_counts(shape, nest, t, n, loops, stride).items():
            per[hierarchy.levels[i].name][t] = (r, f, u)
    used = {lv.name: _used_instances(loops, i) for i, lv in enumerate(hierarchy.levels)}
    accesses = {lv.name: {t: {a: c * used[lv.name] for a, c in zip(ACTIONS, rfu)} for t, rfu in per[lv.name].items()}
                for lv in hierarchy.levels}
    macs = shape.points
    cycles, need, energy = price_counts(hierarchy, [per[lv.name] for lv in hierarchy.levels], list(used.values()),
                                        steps, macs)
    level_cycles = {lv.name: c for lv, c in zip(hierarchy.levels, need)}
    comp = hierarchy.compute
    used[comp.name] = _used_instances(loops, n)
    top = hierarchy.levels[0]
    dram_words = sum(sum(a.values()) for a in accesses[top.name].values())
    return NestCounts(cycles=int(cycles), computes=macs, accesses=accesses,
                      energy_pj_by={k: float(v) for k, v in energy.items()}, level_cycles=level_cycles,
                      instances=used, clock_hz=hierarchy.clock_mhz * 1e6, compute_name=comp.name,
                      compute_instances=hierarchy.instances(n), dram_bytes=dram_words * top.word_bits // 8)
