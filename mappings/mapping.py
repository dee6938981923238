"""Mappings: how each Einsum of a cascade is laid on a spatial accelerator.

In hardware terms a mapping answers, for every Einsum (one loop nest of the cascade):
*which* PE array runs it (the binding), *how big* a tile of each rank sits in each on-chip
buffer (the tiling: the loops above a buffer walk over its tiles), in *which order* those tile
loops run (the loop order, outermost first, which decides what stays resident and what is
re-fetched), *which ranks are spread across the PEs* (spatial unrolling: one rank per array
dimension, with a factor no larger than that dimension), and *which Einsums are fused* (a fusion
group keeps the tensors its Einsums pass to one another on chip instead of in DRAM).

Remainders are allowed everywhere: a rank of size 250 tiled by 64 has three full tiles and one
of 58; spread over 32 PEs, a 58-wide tile takes two steps with 26 PEs idle in the second.

The Einsum side is described by :class:`EinsumShape` (ranks with sizes, the ranks indexing each
tensor, exact operation counts by class), built by hand or from a cascade with
:func:`shapes_from_cascade`. :func:`check` raises :class:`MappingError` with one line naming the
Einsum, the rank, the unit or the buffer at fault.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping as MappingT

from arch.errors import MappingError
from mappings import analysis


@dataclass(frozen=True)
class EinsumShape:
    """One Einsum's iteration space and tensors.

    Attributes
    ----------
    name : str
        The Einsum's name (its output tensor, e.g. ``QK``).
    ranks : mapping rank -> size
        Every rank of the iteration space with its size.
    tensors : mapping tensor -> tuple of ranks
        The ranks indexing each tensor (inputs and the output).
    output : str
        The output tensor.
    op_counts : mapping op class -> count
        Exact operations of the whole Einsum by class (``mac``, ``add``, ``exp``, ...).
    projections : mapping tensor -> tuple of dimensions, optional
        Affine indices: per tensor, per dimension, a tuple of ``(coefficient, rank)`` terms whose
        sum is the index (a 1D convolution's input ``((1, "R"), (1, "P"))`` is indexed by
        ``r+p``; with stride 2, ``((1, "R"), (2, "P"))``). Absent (None): every tensor is indexed
        by its ranks one per dimension, ``tensors[t]``. Tensors missing from the mapping are too.
        Built in ``__post_init__`` (normalised to tuples); the constructor validates that every
        rank named is a rank of the Einsum and every coefficient a positive integer.
    """

    name: str
    ranks: MappingT
    tensors: MappingT
    output: str
    op_counts: MappingT
    projections: MappingT | None = None

    def __post_init__(self):
        object.__setattr__(self, "ranks", MappingProxyType(dict(self.ranks)))
        object.__setattr__(self, "tensors", MappingProxyType({t: tuple(r) for t, r in self.tensors.items()}))
        object.__setattr__(self, "op_counts", MappingProxyType(dict(self.op_counts)))
        if self.projections is not None:
            proj = {}
            for t, dims in self.projections.items():
                if t not in self.tensors:
                    raise MappingError(f"Einsum {self.name}: projection of unknown tensor {t!r}")
                norm = tuple(tuple((int(c), str(r)) for c, r in dim) for dim in dims)
                for dim in norm:
                    for c, r in dim:
                        if r not in self.ranks or c < 1:
                            raise MappingError(f"Einsum {self.name}: tensor {t} index term {c}*{r} needs a rank "
                                               f"of the Einsum and a positive coefficient")
                proj[t] = norm
            object.__setattr__(self, "projections", MappingProxyType(proj))

    @classmethod
    def trusted(cls, name: str, ranks: dict, tensors, output: str, op_counts: dict, projections) -> "EinsumShape":
        """A shape from fields already normalised, without the constructor's checks and copies:
        ``tensors`` and ``projections`` those of a checked shape of the same Einsum (read-only),
        ``ranks`` and ``op_counts`` dicts the caller gives away. For lowerings that shape every
        Einsum of a cascade at each point."""
        shape = object.__new__(cls)
        shape.__dict__.update(name=name, ranks=MappingProxyType(ranks), tensors=tensors, output=output,
                              op_counts=MappingProxyType(op_counts), projections=projections)
        return shape

    def projection(self, tensor: str) -> tuple:
        """Dimensions of ``tensor``, each a tuple of ``(coefficient, rank)`` terms."""
        if self.projections is not None and tensor in self.projections:
            return self.projections[tensor]
        return tuple(((1, r),) for r in self.tensors[tensor])

    @property
    def points(self) -> int:
        """Iteration points: the product of the rank sizes."""
        return math.prod(self.ranks.values())

    @property
    def inputs(self) -> tuple:
        return tuple(t for t in self.tensors if t != self.output)

    def words(self, tensor: str, extents: MappingT | None = None) -> int:
        """Words of ``tensor`` (or of its tile, with ``extents`` rank -> tile size; ranks not
        given span their whole size).

        A dimension indexed by ``sum(c * rank)`` is ``sum(c * (extent - 1)) + 1`` wide: the input
        tile of a P-tile and an R-tile of a convolution (``p+r``) is P+R-1 wide.
        """
        ext = extents or self.ranks
        return math.prod(sum(c * (ext.get(r, self.ranks[r]) - 1) for c, r in dim) + 1
                         for dim in self.projection(tensor))


def gemm_shape(M: int, N: int, K: int, name: str = "Z") -> EinsumShape:
    """``Z[m,n] = A[m,k] * B[k,n]``: M*N*K MACs."""
    return EinsumShape(name, {"M": M, "N": N, "K": K}, {"A": ("M", "K"), "B": ("K", "N"), name: ("M", "N")},
                       name, {"mac": M * N * K})


@lru_cache(maxsize=64)
def _structure(cascade) -> tuple:
    """Per Einsum: (name, (its ranks as a set, in order), tensor -> axis ranks, output, tensor ->
    affine projection, an :class:`EinsumShape` of it with every rank, or None when refused);
    shape-independent.

    A tensor read through an affine index (``I[c,p+r]``) indexes every rank of its terms, and its
    projection (per dimension, the ``(coefficient, rank)`` terms; offsets do not change a tile's
    width) goes to :attr:`EinsumShape.projections`, so its tiles are sliding windows.
    """
    out = []
    for e in cascade.einsums:
        ranks = tuple(e.ranks)
        tensors, projections = {}, {}
        for ref in (*e.inputs, e.output):
            axes = []
            if any(ix.is_affine for ix in ref.indices):
                dims = ref.projection().terms
                projections[ref.name] = dims
                axes = [r for dim in dims for _, r in dim]
            for r in ref.ranks if not axes else ():
                if r in ranks:
                    axes.append(r)
                elif r is not None:  # a partitioned parent (M) read as its parts (M1, M0)
                    axes += [x for x in cascade.space.family(r)[1:] if x in ranks]
            tensors[ref.name] = tuple(dict.fromkeys(axes))
        try:   # the normalised tensors and projections of a shape with every rank (checked once)
            checked = EinsumShape(e.name, dict.fromkeys(ranks, 1), tensors, e.output.name, {}, projections or None)
        except MappingError:
            checked = None   # shaped, and refused, at every point
        out.append((e.name, (frozenset(ranks), ranks), tensors, e.output.name, projections, checked))
    return tuple(out)


def shapes_from_cascade(cascade, shape: MappingT, sizes: MappingT | None = None) -> dict:
    """EinsumShape of every Einsum of a cascade at rank sizes ``shape`` (name -> EinsumShape).

    Uses the cascade's own exact op counts (``Cascade.op_counts(shape, per_einsum=True)``) and
    its rank bookkeeping; iterative and partitioned ranks keep the sizes the cascade gives them.
    ``sizes``: ``cascade.rank_sizes(shape)``, when the caller has it already.
    """
    sizes = sizes if sizes is not None else cascade.rank_sizes(shape)
    counts = analysis.counts_at(cascade, sizes)
    out = {}
    for name, ranks, tensors, output, projections, checked in _structure(cascade):
        ranks_set, ranks = ranks
        if checked is not None and sizes.keys() >= ranks_set:
            out[name] = EinsumShape.trusted(name, dict(zip(ranks, map(int, map(sizes.__getitem__, ranks)))),
                                            checked.tensors, output, counts.get(name, {}), checked.projections)
            continue
        rs = {r: int(sizes[r]) for r in ranks if r in sizes}
        ts = {t: tuple(r for r in axes if r in rs) for t, axes in tensors.items()}
        out[name] = EinsumShape(name, rs, ts, output, counts.get(name, {}), projections or None)
    return out


@dataclass(frozen=True)
class EinsumMapping:
    """The mapping of one Einsum.

    Attributes
    ----------
    einsum : str
        The Einsum's name.
    unit : str
        The compute unit (a key of the spec's ``compute``) that runs it.
    spatial : tuple of (rank, factor)
        One entry per array dimension in use (rows first): that many PEs along the dimension
        each take a different index of ``rank``.
    tiles : mapping level -> (rank -> tile size)
        Per on-chip storage level (a key of the spec's ``storage``), the extent of each rank
        resident there; ranks not named keep the extent of the next level out (the whole rank
        for the outermost buffer).
    loop_order : tuple of rank
        Order of the loops over the outermost buffer's tiles, outermost first; every rank once.
    """

    einsum: str
    unit: str
    spatial: tuple = ()
    tiles: MappingT = field(default_factory=dict)
    loop_order: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "spatial", tuple((str(r), int(f)) for r, f in self.spatial))
        object.__setattr__(self, "tiles", MappingProxyType({lv: MappingProxyType(dict(t)) for lv, t in self.tiles.items()}))
        object.__setattr__(self, "loop_order", tuple(self.loop_order))

    def spatial_factor(self, rank: str) -> int:
        """PEs along ``rank`` (product over the array dimensions it occupies)."""
        return math.prod(f for r, f in self.spatial if r == rank)

    def tile(self, level: str, shape: EinsumShape, levels: tuple, local: tuple = ()) -> dict:
        """Extent of every rank at ``level``: the ranks it names, else the next level out's
        extent; a per-PE level (one of ``local``) holds one element of unnamed ranks."""
        if level in local:
            return {r: self.tiles.get(level, {}).get(r, 1) for r in shape.ranks}
        ext = dict(shape.ranks)
        for lv in levels:
            ext.update(self.tiles.get(lv, {}))
            if lv == level:
                break
        return ext


@dataclass(frozen=True)
class Mapping:
    """A whole cascade's mapping: one :class:`EinsumMapping` per Einsum plus fusion groups."""

    einsums: tuple
    fusion: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "einsums", tuple(self.einsums))
        object.__setattr__(self, "fusion", tuple(tuple(g) for g in self.fusion))

    def of(self, name: str) -> EinsumMapping:
        for m in self.einsums:
            if m.einsum == name:
                return m
        raise MappingError(f"einsum {name!r}: the mapping does not map it")

    def group_of(self, name: str) -> tuple:
        """The fusion group holding ``name`` (a group of one when it is not fused)."""
        for g in self.fusion:
            if name in g:
                return g
        return (name,)

    @classmethod
    def from_dict(cls, data: dict) -> "Mapping":
        """From ``{"einsums": {name: {unit, spatial: [[rank, f], ...], tiles, loop_order}}, "fusion": [[...]]}``."""
        if not isinstance(data, dict) or not isinstance(data.get("einsums"), dict):
            raise MappingError("'einsums' must be a mapping of Einsum name to its mapping")
        ems = []
        for name, m in data["einsums"].items():
            if not isinstance(m, dict) or "unit" not in m:
                raise MappingError(f"einsum {name!r}: 'unit' is required")
            unknown = set(m) - {"unit", "spatial", "tiles", "loop_order"}
            if unknown:
                raise MappingError(f"einsum {name!r}: unknown key {sorted(unknown)[0]!r} (allowed: loop_order, spatial, tiles, unit)")
            ems.append(EinsumMapping(name, m["unit"], tuple(tuple(s) for s in m.get("spatial", ())),
                                     m.get("tiles", {}), tuple(m.get("loop_order", ()))))
        return cls(tuple(ems), tuple(tuple(g) for g in data.get("fusion", ())))


def buffer_levels(spec, unit: str) -> tuple:
    """Shared storage levels (outermost first, spec order), then the per-PE levels of ``unit``."""
    shared = tuple(lv.name for lv in spec.storage.values() if lv.per_pe_of is None)
    local = tuple(lv.name for lv in spec.storage.values() if lv.per_pe_of == unit)
    return shared + local


def footprint_bytes(shape: EinsumShape, extents: MappingT, word_bytes: float, spatial: MappingT | None = None) -> float:
    """Bytes of all tensor tiles at these extents (per PE when ``spatial`` divides them)."""
    ext = dict(extents)
    if spatial:
        ext = {r: math.ceil(e / spatial.get(r, 1)) for r, e in ext.items()}
    return sum(shape.words(t, ext) for t in shape.tensors) * word_bytes


def check_binding(where: str, unit_name: str, spatial, shape: EinsumShape, spec, iterative=()):
    """The compute unit an Einsum is bound to and its spatial unrolling, checked: the unit
    exists and has every operator the Einsum uses, ``spatial`` names ranks of the Einsum (never an
    ``iterative`` one: its steps depend on each other), at most one per array dimension, each
    factor within its dimension. Returns the unit; :class:`MappingError` names ``where``."""
    if unit_name not in spec.compute:
        raise MappingError(f"{where}: unit {unit_name!r} is not a compute unit of the spec (units: {', '.join(spec.compute)})")
    unit = spec.compute[unit_name]
    for op, n in shape.op_counts.items():
        if n and not unit.supports(op):
            raise MappingError(f"{where}: unit {unit_name!r} lacks operator {op!r} (it has: {', '.join(unit.operators)})")
    if len(spatial) > unit.ndim:
        raise MappingError(f"{where}: 'spatial' must have at most {unit.ndim} entries for unit {unit_name!r}, not {len(spatial)}")
    for d, (rank, f) in enumerate(spatial):
        if rank not in shape.ranks:
            raise MappingError(f"{where}: spatial rank {rank!r} is not a rank of the Einsum (ranks: {', '.join(shape.ranks)})")
        if rank in iterative:
            raise MappingError(f"{where}: iterative rank {rank!r} is unrolled spatially on unit {unit_name!r}: "
                               f"its steps depend on each other and run one after another")
        if not 1 <= f <= unit.shape[d]:
            raise MappingError(f"{where}: spatial factor of rank {rank!r} on unit {unit_name!r} dimension {d} "
                               f"must be between 1 and {unit.shape[d]}, not {f}")
    return unit


def check_einsum(m: EinsumMapping, shape: EinsumShape, spec) -> None:
    """Raise :class:`MappingError` if ``m`` cannot run ``shape`` on ``spec``."""
    e = f"einsum {shape.name!r}"
    check_binding(e, m.unit, m.spatial, shape, spec)
    levels = buffer_levels(spec, m.unit)
    for lv, tiles in m.tiles.items():
        if lv not in levels:
            raise MappingError(f"{e}: level {lv!r} is not a buffer of unit {m.unit!r} (levels: {', '.join(levels)})")
        for rank, t in tiles.items():
            if rank not in shape.ranks:
                raise MappingError(f"{e}: rank {rank!r} at level {lv!r} is not a rank of the Einsum (ranks: {', '.join(shape.ranks)})")
            if not isinstance(t, int) or not 1 <= t <= shape.ranks[rank]:
                raise MappingError(f"{e}: tile of rank {rank!r} at level {lv!r} must be between 1 and {shape.ranks[rank]}, not {t!r}")
    local = tuple(lv for lv in levels if spec.storage[lv].per_pe_of is not None)
    outer = dict(shape.ranks)
    for lv in levels:
        ext = m.tile(lv, shape, levels, local)
        for rank, t in ext.items():
            if t > outer[rank]:
                raise MappingError(f"{e}: tile of rank {rank!r} at level {lv!r} ({t}) must not exceed the level above ({outer[rank]})")
        level = spec.storage[lv]
        per_pe = level.per_pe_of is not None
        need = footprint_bytes(shape, ext, level.word_bytes)
        if need > level.size_bytes:
            where = "per PE " if per_pe else ""
            raise MappingError(f"{e}: tiles at level {lv!r} need {need:g} bytes {where}but it holds {level.size_bytes}")
        outer = ext
    shared = [lv for lv in levels if spec.storage[lv].per_pe_of is None]
    if shared:
        ext = m.tile(shared[-1], shape, levels)
        for rank, f in m.spatial:
            if f > ext[rank]:
                raise MappingError(f"{e}: spatial factor of rank {rank!r} ({f}) exceeds its tile at level {shared[-1]!r} ({ext[rank]})")
    if m.loop_order and sorted(m.loop_order) != sorted(shape.ranks):
        raise MappingError(f"{e}: 'loop_order' must list every rank once ({', '.join(shape.ranks)}), not {', '.join(m.loop_order)}")


def on_chip_tensors(shapes: MappingT, name: str, group) -> set:
    """Tensors of Einsum ``name`` that never leave the chip because its fusion ``group``
    produces them (inputs) or consumes them (its output)."""
    group = set(group)
    producers = {s.output: n for n, s in shapes.items()}
    shape = shapes[name]
    out = set()
    for t in shape.tensors:
        if producers.get(t) not in group:
            continue
        if t != shape.output or any(t in shapes[n].inputs for n in group if n in shapes and shapes[n].output != t):
            out.add(t)
    return out


def check(mapping: Mapping, shapes: MappingT, spec) -> None:
    """Raise :class:`MappingError` unless every Einsum is mapped validly and fusion is sound."""
    mapped = [m.einsum for m in mapping.einsums]
    for name in shapes:
        if name not in mapped:
            raise MappingError(f"einsum {name!r}: the mapping does not map it")
    for name in mapped:
        if name not in shapes:
            raise MappingError(f"einsum {name!r}: not an Einsum of the workload (Einsums: {', '.join(shapes)})")
    for m in mapping.einsums:
        check_einsum(m, shapes[m.einsum], spec)
    seen = set()
    for g in mapping.fusion:
        for name in g:
            if name not in shapes:
                raise MappingError(f"fusion group {list(g)}: {name!r} is not an Einsum of the workload")
            if name in seen:
                raise MappingError(f"fusion group {list(g)}: {name!r} is in more than one group")
            seen.add(name)
        _check_group_fits(mapping, g, shapes, spec)


def _check_group_fits(mapping, group, shapes, spec):
    """A fused group's tiles share the outermost on-chip buffer: together they must fit it."""
    shared = [lv for lv in spec.storage.values() if lv.per_pe_of is None]
    if not shared:
        return
    level = shared[0]
    total = 0.0
    for name in group:
        m = mapping.of(name)
        total += footprint_bytes(shapes[name], m.tile(level.name, shapes[name], (level.name,)), level.word_bytes)
    if total > level.size_bytes:
        raise MappingError(f"fusion group {list(group)}: tiles at level {level.name!r} need {total:g} bytes together but it holds {level.size_bytes}")
