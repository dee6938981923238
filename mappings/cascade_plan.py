"""A cascade mapping checked against its cascade and spec, and unfolded into a loop plan.

In hardware terms a :class:`GroupPlan` is one fusion group's loop nest: the shared outer loops
(their trip counts and the iterations they make), what each Einsum computes per iteration (its
tile, on which unit, in which pipeline stage, and in which iterations it runs: an Einsum that
lacks an inner loop's rank runs once per sweep of that loop), what crosses the chip boundary
(:mod:`mappings.cascade_transfers`: loads of inputs, stores of results, tensors spilled through
DRAM) and what stays on chip (tensors passed inside the group, recurrence state). Sizes the
mapping writes against the spec (:mod:`mappings.cascade_sizes`) are resolved here; a
``fit(STEP)`` tile takes the largest candidate whose tiles fit.

:func:`plan` refuses a mapping that cannot run with one :class:`MappingError` line naming the
Einsum, the rank or tensor and the level:

* a unit lacking an operator of its Einsum, a rank or level the Einsum or unit does not have;
* an iterative rank (``iterate t ...``) spread over PEs: its steps depend on each other;
* tiles that do not meet: a consumer's tile of a passed tensor must be the producer's tile or
  a whole number of them along every axis;
* capacity: what a group's buffer holds at once (each passed tensor's largest tile times
  ``slots``, or only the largest of them when the group works ``in_place``, double-buffered
  input and output tiles, recurrence state; bypassed tensors do not count) must fit it;
  per-PE levels likewise per PE;
* a passed tensor that bypasses the group's buffer with nowhere else to go (registers,
  DRAM, a stream in one stage), a stage order against the data flow, too few slots for the
  stages a tensor crosses, a group reading a later group's output, a spill its consumer
  cannot wait for (fewer than two stages after its producer);
* a size naming what the spec or the Einsum lacks, two ``fit`` loops in one group, a ``fit``
  whose smallest tile does not fit.

The plan carries no costs: :mod:`sim.cascade` prices it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
from typing import NamedTuple

from arch.errors import MappingError
from mappings.cascade_mapping import CascadeMapping, Group, Placement
from mappings.cascade_sizes import dims_of, fit_candidates, resolve
from mappings.cascade_facts import CascadeFacts, EinsumTable, axis_extents, einsum_facts, ref_forms_by_id
from mappings.cascade_passes import Overflow, held_bytes, pass_words, passes
from mappings.cascade_transfers import check_spill, crossings, spills, tile_words, transfers
from mappings.einsum import Op, rank_of
from mappings.mapping import check_binding, shapes_from_cascade


class Step(NamedTuple):
    """One Einsum's work in one iteration of its group's loops (an *instance*).

    ``work`` is the extent of each of its ranks per instance, ``every``/``offset`` the
    iterations it runs in (``i % every == offset``), ``serial`` the recurrence steps it takes
    one after another inside one instance (1 when none), ``carried`` the (writer Einsum,
    distance in iterations) of recurrence state it reads from an earlier iteration.
    """

    einsum: str
    unit: str
    stage: int
    work: dict
    every: int
    offset: int
    instances: int
    serial: int
    carried: tuple
    reads: tuple          # in-group producers read in the same iteration


@dataclass(frozen=True)
class GroupPlan:
    """One fusion group's loop nest (see the module docstring)."""

    einsums: tuple
    buffer: str | None
    loops: tuple
    trips: tuple
    iterations: int
    steps: tuple
    transfers: tuple
    held_bytes: float
    recurrent: frozenset
    placements: tuple     # the members' placements, every size an integer (spec and tiles applied)

    def of(self, einsum: str) -> Placement:
        """The placement of member ``einsum`` with its sizes resolved."""
        return next(p for p in self.placements if p.einsum == einsum)


@lru_cache(maxsize=64)
def _iterative_ranks(cascade) -> frozenset:
    """The ranks of ``cascade``'s iterations (a recurrence's steps), once per cascade."""
    return frozenset(rank_of(it.var) for it in cascade.space.iterations)


@lru_cache(maxsize=256)
def _check_names(cascade, m: CascadeMapping) -> None:
    """Every Einsum ``m`` places is one of ``cascade``'s (checked once per pair; a refusal is
    raised again on every call)."""
    names = [e.name for e in cascade.einsums]
    for p in m.placements:
        if p.einsum not in names:
            raise MappingError(f"einsum {p.einsum!r}: not an Einsum of the cascade (Einsums: {', '.join(names)})")


def _expr_latency(node, unit) -> int:
    """Cycles from operands to result through the deepest chain of operators (op latencies)."""
    if not isinstance(node, Op):
        return 0
    own = unit.operators[node.op].latency_cycles if node.op in unit.operators else 0
    return own + max((_expr_latency(a, unit) for a in node.args), default=0)


def einsum_latency(e, unit) -> int:
    """Latency of one point of Einsum ``e`` on ``unit``: its expression plus the reduction."""
    red = {"sum": "add", "max": "max"}.get(e.reduce_op)
    extra = unit.operators[red].latency_cycles if red and red in unit.operators else 0
    return _expr_latency(e.expr, unit) + extra


def _check_placement(cascade, e, p, shape, spec, iterative):
    """Placement ``p`` of Einsum ``e`` (at ``shape``, an :class:`EinsumShape`) can run on
    ``spec``: what does not depend on the rank sizes once per (placement, operators used,
    spec) (:func:`_placement_checked`), then its tiles against the ranks' sizes."""
    ops = e.ops if any(shape.op_counts.values()) else ()   # none when it has no points
    _placement_checked(e.name, p, tuple(shape.ranks), ops, spec, iterative, cascade.terms_of(e))
    for lv, tiles in p.tiles.items():
        for rank, t in tiles.items():
            if t > shape.ranks[rank]:
                raise MappingError(f"einsum {e.name!r}: tile of rank {rank!r} at level {lv!r} must be at most "
                                   f"{shape.ranks[rank]}, not {t}")


@lru_cache(maxsize=1024)
def _placement_checked(einsum: str, p, ranks: tuple, ops: tuple, spec, iterative: frozenset, terms: tuple) -> None:
    """:func:`_check_placement` of what reads no rank size: the unit and its operators
    ``ops``, the spatial factors, levels, tiles naming ``ranks``, bypassed tensors, per-PE
    capacity (``terms``: the projections of the Einsum's output, then its inputs)."""
    where = f"einsum {einsum!r}"
    check_binding(where, p.unit, p.spatial, _Named(dict.fromkeys(ranks), dict.fromkeys(ops, 1)), spec, iterative)
    levels = [lv for lv, s in spec.storage.items() if s.per_pe_of in (None, p.unit)]
    for lv in (*p.tiles, *p.bypass):
        if lv not in levels:
            raise MappingError(f"{where}: level {lv!r} is not a buffer of unit {p.unit!r} (levels: {', '.join(levels)})")
    for lv, tiles in p.tiles.items():
        for rank in tiles:
            if rank not in ranks:
                raise MappingError(f"{where}: rank {rank!r} at level {lv!r} is not a rank of the Einsum (ranks: {', '.join(ranks)})")
    tensors = [t for t, _ in terms]
    for lv, ts in p.bypass.items():
        for t in ts:
            if t not in tensors:
                raise MappingError(f"{where}: bypassed tensor {t!r} at level {lv!r} is not a tensor of the Einsum")
    for lv in levels:
        level = spec.storage[lv]
        if level.per_pe_of is None:
            continue
        ext = p.tiles.get(lv, {})
        words = sum(math.prod(axis_extents(axes, ext)) for t, axes in terms if p.keeps(lv, t))
        if words * level.word_bytes > level.size_bytes:
            raise MappingError(f"{where}: tiles at level {lv!r} need {words * level.word_bytes:g} bytes per PE but it holds {level.size_bytes}")


class _Named(NamedTuple):
    """What :func:`~mappings.mapping.check_binding` reads of an Einsum's shape: its ranks and
    the operators it uses (nonzero counts)."""

    ranks: dict
    op_counts: dict


def _groups(cascade, m: CascadeMapping, spec) -> tuple:
    """Every Einsum in exactly one group (unnamed ones alone), groups in cascade order;
    ``cascade``: its :class:`CascadeFacts`."""
    return _grouped(cascade.cascade, m, tuple(lv for lv, s in spec.storage.items() if s.per_pe_of is None))


@lru_cache(maxsize=256)
def _grouped(cascade, m: CascadeMapping, shared: tuple) -> tuple:
    """:func:`_groups` on a spec whose shared storage levels are ``shared``, once per
    (cascade, mapping with its static sizes resolved, levels)."""
    facts = EinsumTable(einsum_facts(cascade))
    order = [e.name for e in facts.einsums]
    seen = {}
    for g in m.fusion:
        for name in g.einsums:
            if name not in order:
                raise MappingError(f"fusion group {list(g.einsums)}: {name!r} is not an Einsum of the cascade")
            if name in seen:
                raise MappingError(f"fusion group {list(g.einsums)}: einsum {name!r} is in more than one group")
            seen[name] = g
    groups = list(m.fusion)
    for name in order:
        if name not in seen:
            p = m.of(name)
            groups.append(Group((name,), shared[0] if shared else "", _own_loops(facts, p, shared)))
    groups.sort(key=lambda g: min(order.index(n) for n in g.einsums))
    return tuple(replace(g, einsums=tuple(sorted(g.einsums, key=order.index))) for g in groups)


def _own_loops(cascade, p, shared) -> tuple:
    """An Einsum alone: its outermost buffer's tiles, in its loop order, are its loops."""
    e = cascade.einsum(p.einsum)
    tiles = p.tiles.get(shared[0], {}) if shared else {}
    return tuple((r, tiles[r]) for r in (p.loop_order or e.ranks) if r in tiles)


def plan(cascade, shape: dict, m: CascadeMapping, spec, only: str | None = None, shapes: dict | None = None) -> list:
    """Check ``m`` against ``cascade`` at rank sizes ``shape`` on ``spec``; the group plans.

    ``cascade`` may be its :class:`CascadeFacts` at these sizes (a caller that reads them too).
    With ``only`` (an Einsum's name), check and plan only the group holding that Einsum.
    ``shapes``: :func:`~mappings.mapping.shapes_from_cascade` of ``cascade`` and ``shape``,
    when the caller has it already.

    Raises
    ------
    MappingError
        One line naming the Einsum, the rank or tensor and the level (module docstring).
    """
    if isinstance(cascade, CascadeFacts):
        sizes = cascade.sizes
    else:
        sizes = cascade.rank_sizes(shape)
        cascade = CascadeFacts(cascade, sizes)
    shapes = shapes if shapes is not None else shapes_from_cascade(cascade.cascade, shape)
    _check_names(cascade.cascade, m)
    iterative = _iterative_ranks(cascade.cascade)
    m = _static_sizes(m, spec, sizes)
    done, out = set(), []
    for g in _groups(cascade, m, spec):
        if only is None or only in g.einsums:
            out.append(_fitted(cascade, g, m, spec, sizes, shapes, done, iterative))
        done |= set(g.einsums)
    return out


def _static_sizes(m: CascadeMapping, spec, sizes: dict) -> CascadeMapping:
    """:func:`_sized` of ``m`` on ``spec``'s units and shared levels at rank sizes ``sizes``:
    once per mapping, array dimensions and sizes of the ranks the mapping names."""
    tiles, spatial = _expressions(m)
    # the sizes' sources are part of the key: equal sizes read from other files name theirs
    wheres = tuple(n.where for n in tiles + spatial)
    units, shared, named = _size_keys(m, spec)
    if any(r not in sizes for r in named):   # refused: the message lists every rank
        return _sized.__wrapped__(m, wheres, units, shared, tuple(sizes.items()))
    return _sized(m, wheres, units, shared, tuple((r, sizes[r]) for r in named))


@lru_cache(maxsize=256)
def _size_keys(m: CascadeMapping, spec) -> tuple:
    """What :func:`_sized` reads of ``m`` and ``spec`` besides rank sizes and where the sizes
    were read: the compute units' dimensions (:class:`~mappings.cascade_sizes.Dims`), the shared levels, and the ranks
    its tiles name (a spatial factor naming one stays unresolved)."""
    units = tuple((n, dims_of(u)) for n, u in spec.compute.items())
    shared = tuple(lv for lv, s in spec.storage.items() if s.per_pe_of is None)
    return units, shared, tuple(sorted({r for n in _expressions(m)[0] for r in n.ranks}))


def _expressions(m: CascadeMapping) -> tuple:
    """(tiles and loop tiles, spatial factors) of ``m`` written as expressions
    (:class:`~mappings.cascade_sizes.Size`)."""
    tiles = [n for p in m.placements for t in p.tiles.values() for n in t.values()]
    tiles += [t for g in m.fusion for _, t in g.loops]
    spatial = [f for p in m.placements for _, f in p.spatial]
    return [n for n in tiles if not isinstance(n, int)], [f for f in spatial if not isinstance(f, int)]


@lru_cache(maxsize=256)
def _sized(m: CascadeMapping, wheres: tuple, units: tuple, shared: tuple, rank_sizes: tuple) -> CascadeMapping:
    """``m`` with its per-level tiles, its groups' loop tiles and the spatial factors that name
    no rank as integers on compute units ``units`` ((name, :class:`~mappings.cascade_sizes.Dims`) pairs), ranks read
    as ``rank_sizes`` ((rank, size) pairs); ``fit`` loop tiles (an Einsum alone: its tiles at
    a level of ``shared``, which are its loops) and spatial factors naming a rank (which read
    the Einsum's tiles) stay. ``wheres``: where each of ``m``'s expressions was read (they
    compare equal across files), so that one it keeps names its own file."""
    grouped = {n for g in m.fusion for n in g.einsums}
    units, sizes = dict(units), dict(rank_sizes)

    def size(p, lv, r, n):
        if isinstance(n, int) or not n.is_fit:
            return resolve(n, units, sizes)
        if p.einsum in grouped or lv not in shared:
            n.fail(f"(tile of rank {r!r} of einsum {p.einsum!r} at level {lv!r}): fit(STEP) is allowed only as a "
                   f"fusion group's loop tile or a shared buffer's tile of an Einsum in no group")
        return n

    def tiles(p):
        return {lv: {r: size(p, lv, r, n) for r, n in t.items()} for lv, t in p.tiles.items()}

    def loops(g):
        return tuple((r, t if not isinstance(t, int) and t.is_fit else resolve(t, units, sizes))
                     for r, t in g.loops)

    def spatial(p):
        return tuple((r, f if not isinstance(f, int) and f.reads_ranks else resolve(f, units, {}))
                     for r, f in p.spatial)

    return replace(m, placements=tuple(replace(p, tiles=tiles(p), spatial=spatial(p)) for p in m.placements),
                   fusion=tuple(replace(g, loops=loops(g)) for g in m.fusion))


def _fitted(cascade, g: Group, m, spec, sizes, shapes, done, iterative) -> GroupPlan:
    """The plan of group ``g``; a ``fit(STEP)`` loop tile takes the largest candidate
    (:func:`~mappings.cascade_sizes.fit_candidates`) whose tiles fit (what a group holds grows
    with its tile). What the candidates share is worked out once (:class:`_Attempts`)."""
    fits = [i for i, (_, t) in enumerate(g.loops) if not isinstance(t, int)]
    attempt = _Attempts(cascade, g, m, spec, sizes, shapes, done, iterative).plan
    if not fits:
        return attempt(g.loops)
    if len(fits) > 1:
        raise MappingError(f"{_label(g)}: loops of ranks {g.loops[fits[0]][0]!r} and "
                           f"{g.loops[fits[1]][0]!r} at level {g.buffer!r} are both fit(...); at most one may be")
    i = fits[0]
    rank, size = g.loops[i]
    cands = fit_candidates(size.value(spec.compute, sizes), sizes[rank])

    def tried(k):
        try:
            return attempt(g.loops[:i] + ((rank, cands[k]),) + g.loops[i + 1:])
        except Overflow as err:
            return err

    # the largest first (it fits at all but the longest ranks), then a search over the rest
    # (cands[:lo] overflow, cands[hi:] fit: what is held grows with the tile); its first probe
    # is the largest tile the overflow of the largest says may fit (what is held taken as
    # growing in proportion to the tile), then the next larger one, then bisection
    found = tried(0)
    if not isinstance(found, MappingError):
        return found
    lo, hi, found, failed = 1, len(cands), None, {0: found}
    probes = [next((k for k in range(1, len(cands)) if cands[k] * failed[0].excess <= cands[0]), len(cands) - 1)]
    while lo < hi:
        mid = probes.pop() if probes else (lo + hi) // 2
        mid = min(max(mid, lo), hi - 1)
        got = tried(mid)
        if isinstance(got, MappingError):
            lo, failed[mid] = mid + 1, got
        else:
            hi, found = mid, got
            if len(failed) == 1 and mid > lo:   # the first probe fits: is the next larger too big?
                probes.append(mid - 1)
    if found is None:   # none fits: the smallest tile's overflow (the last one tried)
        raise failed[len(cands) - 1]
    return found


class _Attempts:
    """Group ``g``'s plans at the loop tiles tried in one lowering (its own, or a ``fit`` tile's
    candidates): what they share is worked out once, its structure (:class:`_GroupFlow`) and
    passed tensors (:func:`~mappings.cascade_passes.passes`) after the first candidate's
    placements are checked; a member's placement resolved on the tiles is checked once per
    resolved sizes."""

    def __init__(self, cascade, g: Group, m, spec, sizes, shapes, done, iterative):
        self.cascade, self.g, self.spec, self.sizes, self.shapes = cascade, g, spec, sizes, shapes
        self.done, self.iterative = done, iterative
        self.members = tuple((e, m.of(e.name), reads, fit) for e, reads, fit in _members(cascade.cascade, g, m))
        self.fixed = not any(reads or fit for _, _, reads, fit in self.members)   # nothing to resolve
        self.placed = {}   # resolved placements by (Einsum, spatial factors, fit tiles)
        self.checked = set()   # (Einsum, spatial factors) of the placements checked
        self._flow = self._passes = self._view = None

    def flow(self) -> _GroupFlow:
        if self._flow is None:
            self._flow = _group_flow(self.cascade, self.g, self.spec, self.done, self.iterative)
        return self._flow

    def passed(self) -> tuple:
        if self._passes is None:
            self._passes = passes(self.cascade.cascade, self.g, self.flow().flow.pairs,
                                  tuple(mb[1] for mb in self.members), self.spec, _label(self.g))
        return self._passes

    def plan(self, loops: tuple) -> GroupPlan:
        """The group at integer loop tiles ``loops`` with its members resolved on their tiles,
        each placement checked, planned."""
        view = self._view or _Members(self._placements(loops))
        if self.fixed:   # every size an integer already: the same placements at every tile
            self._view = view
        return _group_plan(self.cascade, self.flow(), self.g, loops, view, self.spec, self.sizes, self.iterative,
                           self.passed())

    def _placements(self, loops: tuple) -> list:
        """Each member's placement at loop tiles ``loops``, checked (once per resolved sizes)."""
        loop_tile, placed, out = dict(loops), self.placed, []
        for e, p, reads, fit_ranks in self.members:
            spatial = p.spatial
            if reads:   # resolved on the Einsum's tiles
                spatial = _spatial_at(p, self.spec, reads, tuple([loop_tile.get(x, self.sizes[x]) for x in reads]))
            key = (e.name, spatial, tuple([(r, loop_tile[r]) for r in fit_ranks]) if fit_ranks else ())
            resolved = placed.get(key)
            if resolved is None:
                resolved = _resolved(p, spatial, key[2])
                if key[:2] not in self.checked:   # not the same placement under another fit tile
                    _check_placement(self.cascade, e, resolved, self.shapes[e.name], self.spec, self.iterative)
                    self.checked.add(key[:2])
                placed[key] = resolved
            out.append(resolved)
        return out


@lru_cache(maxsize=1024)
def _spatial_at(p: Placement, spec, ranks: tuple, tiles: tuple) -> tuple:
    """``p``'s spatial factors resolved on ``spec``'s units with ``ranks`` (those they read, or
    all of the Einsum's when one is not the Einsum's) at ``tiles`` (once per value; a refusal
    is raised again on every call)."""
    work = dict(zip(ranks, tiles))
    return tuple([(r, resolve(f, spec.compute, work)) for r, f in p.spatial])


@lru_cache(maxsize=1024)
def _members(cascade, g: Group, m: CascadeMapping) -> tuple:
    """Per Einsum of group ``g``: its facts (:func:`einsum_facts` of ``cascade``), the ranks
    whose tiles the spatial factors of its placement in ``m`` still read (every rank of the
    Einsum when one is not the Einsum's: refused by name; empty when they are integers), and
    the ranks of its ``fit`` tiles (what the group's loop tiles resolve in it)."""
    facts = EinsumTable(einsum_facts(cascade))
    out = []
    for n in g.einsums:
        p = m.of(n)
        e = facts.einsum(n)
        reads = tuple(dict.fromkeys(r for _, f in p.spatial if not isinstance(f, int) for r in f.ranks))
        if not set(reads) <= set(e.ranks):
            reads = tuple(e.ranks)
        out.append((e, reads, tuple(r for t in p.tiles.values() for r, x in t.items() if not isinstance(x, int))))
    return tuple(out)


class _Members:
    """A group's resolved placements (a fit candidate's), looked up by Einsum; ``spatial``:
    each one's spatial factors as (Einsum, rank, factor)."""

    __slots__ = ("placements", "_by", "spatial")

    def __init__(self, placements: list):
        self.placements = tuple(placements)
        self._by = {p.einsum: p for p in placements}
        self.spatial = tuple([(p.einsum, rank, f) for p in placements for rank, f in p.spatial])

    def of(self, einsum: str) -> Placement:
        return self._by[einsum]


@lru_cache(maxsize=1024)
def _resolved(p: Placement, spatial: tuple, fit: tuple) -> Placement:
    """``p`` with spatial factors ``spatial`` (integers) and its ``fit`` tiles taken from the
    group's loop tiles ``fit`` ((rank, tile) pairs; ``p`` itself when every size is an
    integer already), once per value."""
    if spatial == p.spatial and all(isinstance(n, int) for t in p.tiles.values() for n in t.values()):
        return p
    loop_tile = dict(fit)
    fitted = {lv: {r: n if isinstance(n, int) else loop_tile[r] for r, n in t.items()} for lv, t in p.tiles.items()}
    return replace(p, spatial=spatial, tiles=fitted)


def _check_loops(g: Group, franks: set, label: str) -> None:
    """Each loop rank once, a rank of the group's Einsums."""
    looped = [r for r, _ in g.loops]
    for r, t in g.loops:
        if looped.count(r) > 1:
            raise MappingError(f"{label}: loop rank {r!r} at level {g.buffer!r} appears more than once")
        if r not in franks:
            raise MappingError(f"{label}: loop rank {r!r} at level {g.buffer!r} is not a rank of its Einsums")


def _label(g: Group) -> str:
    """How messages name a group: ``fusion group [...]``, or ``einsum 'X'`` when alone."""
    return f"fusion group {list(g.einsums)}" if len(g.einsums) > 1 else f"einsum {g.einsums[0]!r}"


@dataclass(frozen=True)
class _Member:
    """What a group's loop nest makes of one member whatever the sizes: the loop ranks it
    lacks (it runs once per sweep of them), whether it reads a tensor produced over them (it
    runs in the sweep's last iteration), its iterative rank (or None), the writers of the
    recurrence state it reads, the producers it waits for in the same iteration."""

    e: object
    lacked: tuple
    reads_lacked: bool
    iterative: str | None
    state_writers: tuple
    reads: tuple


@dataclass(frozen=True, eq=False)
class _GroupFlow:
    """The part of a group's plan that does not depend on rank sizes or tiles: its label, its
    members (:class:`_Member`, cascade order), producers by tensor and the data flow
    (:class:`_Flow`). One object per group structure (:func:`_structure`), compared by
    identity."""

    label: str
    members: tuple
    producer: dict
    flow: "_Flow"
    state: tuple          # recurrence state tensors (recurrent_state)
    crossing: tuple       # what crosses the chip boundary (cascade_transfers.crossings)
    ranks: tuple          # the members' ranks
    sized: tuple          # the members' references whose projections read rank sizes (m1*M0+m0)


def _group_flow(cascade, g: Group, spec, done, iterative) -> _GroupFlow:
    """Check group ``g``'s structure (buffer, loop ranks, data flow, spills) and describe it;
    ``cascade``: its :class:`CascadeFacts`."""
    if g.buffer not in spec.storage or spec.storage[g.buffer].per_pe_of is not None:
        raise MappingError(f"{_label(g)}: buffer {g.buffer!r} is not a shared storage level of the spec")
    return _structure(cascade.cascade, g, frozenset(done), iterative)


@lru_cache(maxsize=256)
def _structure(cascade, g: Group, done: frozenset, iterative: frozenset) -> _GroupFlow:
    """:func:`_group_flow` past the spec's buffer: what reads only the cascade and the group,
    worked out once per (cascade, group, groups before it, iterative ranks); a refusal is
    raised again on every call (``lru_cache`` keeps only results)."""
    label = _label(g)
    facts = EinsumTable(einsum_facts(cascade))
    es = [facts.einsum(n) for n in g.einsums]
    _check_loops(g, {r for e in es for r in e.ranks}, label)
    producer = {e.name: e for e in es}
    for e in es:
        lacked = [i for i, (r, _) in enumerate(g.loops) if r not in e.ranks]
        if lacked and lacked != list(range(len(g.loops) - len(lacked), len(g.loops))):
            r = g.loops[lacked[0]][0]
            raise MappingError(f"{label}: einsum {e.name!r} lacks loop rank {r!r} at level {g.buffer!r}, which must then be inner to the loops over its own ranks")
    flow = _flow(es, producer, g, label, done, facts)
    check_spill(g, producer, label)
    for i, names in enumerate(g.sync):
        for n in names:
            if n not in producer:
                raise MappingError(f"{label}: sync[{i}] names einsum {n!r}, which is not in the group")
    members = []
    for e in es:
        lacked = tuple(r for r, _ in g.loops if r not in e.ranks)
        reads_lacked = any(x in producer and any(r in producer[x].ranks for r in lacked) for x in e.input_tensors)
        it = [r for r in e.ranks if r in iterative]
        reads = tuple(dict.fromkeys(x for x in e.input_tensors if x in producer and not flow.reads_state(e.name, x)
                                    and g.spill.get(x) != e.name))
        members.append(_Member(e, lacked, reads_lacked, it[0] if it else None,
                               tuple(w for _, w in flow.state.get(e.name, ())),
                               tuple(producer[x].name for x in reads if producer[x].name != e.name)))
    sized = {id(r) for _, r, _ in ref_forms_by_id(cascade)[1]}
    return _GroupFlow(label, tuple(members), MappingProxyType(producer), flow, tuple(recurrent_state(es)),
                      crossings(facts.einsums, cascade.outputs, g, es, producer),
                      tuple(dict.fromkeys(r for e in es for r in e.ranks)),
                      tuple(ref for e in es for ref in (e.output, *e.inputs) if id(ref) in sized))


def _group_plan(cascade, gf: _GroupFlow, g: Group, loops: tuple, m, spec, sizes, iterative, passes) -> GroupPlan:
    """The plan of group ``g`` at integer loop tiles ``loops`` (the ranks of ``g.loops``), its
    structure ``gf`` checked already; ``m``: the members' placements (:class:`_Members`);
    ``passes``: its passed tensors (:func:`~mappings.cascade_passes.passes`)."""
    label, producer, flow = gf.label, gf.producer, gf.flow
    for r, t in loops:
        if t > sizes[r]:
            raise MappingError(f"{label}: tile of loop rank {r!r} at level {g.buffer!r} must be at most {sizes[r]}, not {t}")
    trips = tuple([math.ceil(sizes[r] / t) for r, t in loops])
    full = {**sizes, **dict(loops)}   # every rank's tile: its loop's, else the whole rank
    work_of = {}   # each member's tile, made when first read (a candidate that overflows reads few)

    def tiles() -> dict:
        if not work_of:
            for mb in gf.members:
                work_of[mb.e.name] = dict(zip(mb.e.ranks, map(full.__getitem__, mb.e.ranks)))
        return work_of

    for name, rank, f in m.spatial:
        if f > full[rank]:
            raise MappingError(f"{label}: einsum {name!r}: spatial factor of rank {rank!r} ({f}) exceeds its tile at level {g.buffer!r} ({full[rank]})")
    # what the buffer holds at once first (a fit candidate that overflows needs no steps)
    held, words = _held(cascade, gf, g, m, spec, full, iterative, passes, tiles)
    tiles()   # the members' tiles, which a kept outcome did not need
    iterations = math.prod(trips)
    stride = {r: math.prod(trips[i + 1:]) for i, (r, _) in enumerate(loops)}
    trip_of = dict(zip([r for r, _ in loops], trips))
    steps = []
    for mb, p in zip(gf.members, m.placements):
        name = mb.e.name
        every = math.prod([trip_of[r] for r in mb.lacked])
        offset = every - 1 if mb.reads_lacked and every > 1 else 0
        it = mb.iterative
        if it is None:
            serial, carried = 1, ()
        else:
            serial = work_of[name][it] if name in flow.recurrent else 1
            carried = tuple([(w, stride[it]) for w in mb.state_writers]) if it in stride else ()
        steps.append(Step(name, p.unit, g.stage(name), work_of[name], every, offset, iterations // every,
                          serial, carried, mb.reads))
    moved = transfers(cascade, g, gf.crossing, words, trips, work_of) + spills(g, producer, steps, m, cascade, trips,
                                                                              work_of)
    return GroupPlan(g.einsums, g.buffer, loops, trips, iterations, tuple(steps), tuple(moved), held,
                     flow.recurrent, m.placements)


def _held(cascade, gf: _GroupFlow, g: Group, m, spec, full: dict, iterative, passes, tiles) -> tuple:
    """``(bytes held at once, tile_words)`` of group ``g`` (structure ``gf``) whose ranks take
    tiles ``full`` (``tiles()``: each member's), its members placed as ``m``: its passed
    tensors (``passes``, each checked), its loads' and stores' tiles, double buffered when
    kept, and its recurrence state. Raises :class:`Overflow` when they do not fit.

    Kept per what it reads (:data:`_HELD`): the group, its placements, the buffer, the tiles
    of its ranks and the projections of its references that read rank sizes, so that the
    ``fit`` candidates of points that share them are checked once."""
    label, producer = gf.label, gf.producer
    level = spec.storage[g.buffer]
    cap, word_bytes = level.size_bytes, level.word_bytes
    # gf and passes by identity (each one object per structure), the entry holding them
    key = (id(gf), id(passes), g, m.placements, cap, word_bytes, iterative, tuple([full[r] for r in gf.ranks]),
           tuple([cascade.form(ref) for ref in gf.sized]))
    got = _HELD.get(key)
    if got is not None and got[0] is gf and got[1] is passes:
        got = got[2]
        if isinstance(got, Overflow):
            raise Overflow(str(got), got.excess)
        return got
    passed = {}   # tensor -> bytes held for it: its largest tile over its consumers
    over, worst = None, 0.0   # the first overflow; the passes after it say by how much others do
    for ps in passes:
        try:
            if ps.refused:
                raise MappingError(ps.refused)
            b = held_bytes(ps, math.prod(map(full.__getitem__, ps.axes)) if ps.axes is not None else
                      pass_words(cascade, ps, m, g, label, tiles()), g, word_bytes, label)
        except Overflow as err:
            over, worst = over or err, max(worst, err.excess)
            continue
        except MappingError:
            if over is None:
                raise
            continue
        passed[ps.tensor] = max(passed.get(ps.tensor, 0.0), b)
    if len(_HELD) >= 4096:
        _HELD.clear()
    if over is not None:
        over = Overflow(str(over), worst)
        _HELD[key] = (gf, passes, over)
        raise over
    held = max(passed.values(), default=0.0) if g.in_place else sum(passed.values())
    # loads and stores are double buffered; a tile passed through DRAM (spill) passes through
    # the buffer as a stream of array tiles: it costs buffer accesses when kept but holds no
    # block of it
    work_of = tiles()
    words = tuple(tile_words(cascade, gf.crossing, m, g, work_of))
    held += sum([2 * w * word_bytes for w, kept in words if kept])
    for x in gf.state:
        held += cascade.words(producer[x].output, {**work_of[x], **{r: 1 for r in iterative}}) * word_bytes
    if held > cap:
        over = Overflow(f"{label}: tiles at level {g.buffer!r} need {held:g} bytes at once but it holds {cap}", held / cap)
        _HELD[key] = (gf, passes, over)
        raise over
    _HELD[key] = (gf, passes, (held, words))
    return held, words


#: :func:`_held` of the tiles and placements met so far: (structure, passes, the result or
#: the Overflow raised).
_HELD = {}
_held.cache_clear = _HELD.clear


def recurrent_state(members) -> list:
    """Tensors an Einsum of ``members`` writes at step ``t+1`` and some member reads."""
    out = []
    for e in members:
        iterating = {it.var for it in e.space.iterations}
        ahead = any(len(ix.terms) == 2 and ix.terms[0].var in iterating and ix.terms[1].var is None
                    and ix.terms[1].const == 1 for ix in e.output.indices)
        if ahead and any(e.name in x.input_tensors for x in members):
            out.append(e.name)
    return out


@dataclass(frozen=True)
class _Flow:
    """A group's internal data flow: ``pairs`` (tensor, consumer) passed in the same iteration,
    ``state`` reader -> ((tensor, writer), ...) of recurrence state written in an earlier step,
    ``recurrent`` the Einsums on a recurrence."""

    pairs: tuple
    state: dict
    recurrent: frozenset

    def reads_state(self, reader: str, tensor: str) -> bool:
        return any(x == tensor for x, _ in self.state.get(reader, ()))


def _flow(members, producer, g, label, done, cascade) -> _Flow:
    """The data flow inside group ``g``; refuses stages against it and reads of later groups."""
    order = {e.name: i for i, e in enumerate(members)}
    recurrent_tensors = set(recurrent_state(members))
    pairs, state = [], {}
    edges = {e.name: set() for e in members}
    produced = {e.name for e in cascade.einsums}
    for e in members:
        for x in e.input_tensors:
            if x not in producer:
                if x in produced and x not in done:
                    raise MappingError(f"{label}: einsum {e.name!r} reads tensor {x!r}, produced by a later group")
                continue
            w = producer[x].name
            edges[w].add(e.name)
            if x in recurrent_tensors and order[w] >= order[e.name] or w == e.name:
                state.setdefault(e.name, []).append((x, w))
                continue
            pairs.append((x, e.name))
            sw, sc = g.stage(w), g.stage(e.name)
            if sc < sw:
                raise MappingError(f"{label}: einsum {e.name!r} at stage {sc} reads tensor {x!r} produced at the later stage {sw}")
            if g.spill.get(x) == e.name:   # it waits in DRAM, not in the buffer's slots
                continue
            if sc - sw + 1 > g.slots:
                raise MappingError(f"{label}: tensor {x!r} passes from stage {sw} to {sc} at level {g.buffer!r}, "
                                   f"which needs {sc - sw + 1} slots, not {g.slots}")
    return _Flow(tuple(pairs), MappingProxyType({k: tuple(v) for k, v in state.items()}), frozenset(_on_cycles(edges)))


def _reach(edges, a) -> set:
    seen, todo = set(), list(edges[a])
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += edges[n]
    return seen


def _on_cycles(edges) -> set:
    """Nodes of a directed graph that lie on a cycle (self-loops included)."""
    return {a for a in edges if a in _reach(edges, a)}


def recurrences(cascade) -> list:
    """Einsums that must share one group: each recurrence (a cycle of the data flow through
    state written at ``t+1`` and read at ``t``), as a tuple of names in cascade order."""
    names = [e.name for e in cascade.einsums]
    edges = {n: {e.name for e in cascade.einsums if n in e.input_tensors} for n in names}
    reach = {n: _reach(edges, n) for n in names}
    out = []
    for n in names:
        if n in reach[n] and not any(n in g for g in out):
            out.append(tuple(x for x in names if x in reach[n] and n in reach[x]))
    return out
