"""Static analysis of a cascade: rank sizes, exact op counts, passes and live footprint.

In hardware terms these are the numbers an architect reads off a workload before mapping it:
how many operations of each class (MACs for the 2D array, max/exp/div for the 1D array) each
Einsum needs, and how many times the data along a rank (the key/value sequence M of attention)
must be streamed through the chip. A cascade that needs more than one pass over M must either
keep an O(M) footprint on chip or spill it and re-read it from DRAM (FuseMax, Nayak et al.,
MICRO 2024, section on pass analysis).

Everything here is derived from the cascade's structure and the rank sizes in closed form; the
functional evaluator (:mod:`mappings.evaluate`) counts the same operations while it runs, and
the tests check that both agree.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping

from mappings.terms import OP_CLASSES, CascadeError, Op, rank_of, walk

if TYPE_CHECKING:  # annotations only: the Cascade calls these functions
    from mappings.einsum import Cascade, Einsum


# ----------------------------------------------------------------------------- rank sizes
def _positive(rank: str, value) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 1:
        raise CascadeError(f"rank {rank!r} must be a positive integer, not {value!r}", rank=rank)
    return int(value)


def resolve_sizes(space, shape: Mapping[str, int]) -> dict[str, int]:
    """Sizes of every declared rank.

    Sizes come from ``shape`` (entries for undeclared ranks are ignored), then from the
    ranks' declared defaults; the outer rank of a partition is derived as
    ``ceil(parent / inner)`` (a shorter last partition when the inner size does not divide).

    Raises
    ------
    CascadeError
        A size is not a positive integer, contradicts its partition, or is missing.
    """
    sizes = {r: _positive(r, shape[r]) for r in space.ranks if r in shape}
    for r, v in space.defaults.items():
        sizes.setdefault(r, v)
    for p in space.partitions:
        if p.parent in sizes and p.inner in sizes:
            outer = -(-sizes[p.parent] // sizes[p.inner])
            if sizes.setdefault(p.outer, outer) != outer:
                raise CascadeError(f"rank {p.outer!r} must be ceil({p.parent} / {p.inner}) = "
                                   f"{outer}, not {sizes[p.outer]}", rank=p.outer)
        elif p.outer in sizes and p.inner in sizes:
            sizes[p.parent] = sizes[p.outer] * sizes[p.inner]
    outers = {p.outer for p in space.partitions}
    for r in sorted(space.ranks, key=lambda r: r in outers):  # name a root cause first
        if r not in sizes:
            raise CascadeError(f"rank {r!r} has no size; pass it with the rank sizes (e.g. "
                               f"{{{r!r}: 16}})", rank=r)
    return sizes


def extent(space, var: str, sizes: Mapping[str, int]) -> int:
    """Number of values an index variable takes (the trip count for an iterative rank)."""
    it = space.iteration_of(var)
    return it.trips(sizes) if it is not None else sizes[rank_of(var)]


def iteration_points(e: Einsum, sizes: Mapping[str, int]) -> int:
    """Number of valid points in an Einsum's iteration space (closed form).

    A partition's outer and inner variables together range over the parent rank only:
    ``(m1, m0)`` with ``m1*M0 + m0 < M``, so they contribute ``min(M, T*M0)`` points where
    ``T`` is the number of values ``m1`` takes.
    """
    return _points(_points_form(e), sizes, [it.trips(sizes) for it in e.space.iterations])


def _points_form(e: Einsum) -> tuple:
    """The factors of :func:`iteration_points` of ``e`` whatever the sizes: each partition's
    ``(parent, outer rank, inner rank, iteration)`` whose two variables ``e`` has, and each
    other variable's ``(rank, iteration)`` (``iteration``: the index in ``e.space.iterations``
    of an iterative variable's, else None)."""
    space, variables = e.space, list(dict.fromkeys(e.variables))
    iterations = [it.var for it in space.iterations]

    def trips(var):
        return iterations.index(var) if var in iterations else None

    parts = []
    for p in space.partitions:
        o, i = p.outer.lower(), p.inner.lower()
        if o in variables and i in variables:
            parts.append((p.parent, rank_of(o), p.inner, trips(o)))
            variables = [v for v in variables if v not in (o, i)]
    return tuple(parts), tuple((rank_of(v), trips(v)) for v in variables)


def _points(form: tuple, sizes: Mapping[str, int], trips: list) -> int:
    """:func:`iteration_points` from its :func:`_points_form` at ``sizes``, ``trips`` the steps
    of each iteration of the space."""
    parts, singles = form
    n = 1
    for parent, outer, inner, k in parts:
        n *= min(sizes[parent], (trips[k] if k is not None else sizes[outer]) * sizes[inner])
    for rank, k in singles:
        n *= trips[k] if k is not None else sizes[rank]
    return n


# ----------------------------------------------------------------------------- op counts
def einsum_op_classes(e: Einsum) -> dict[str, int]:
    """Operations per valid iteration point, by class.

    Every operator node of the right-hand side is one operation of its class (``add``,
    ``sub``, ``mul``, ``div``, ``max``, ``exp``). A sum reduction adds one ``add`` per point
    (accumulation into the output), except that a sum of a product fuses the product's
    outermost ``mul`` with the accumulation into one ``mac``. A max reduction adds one
    ``max`` per point. A bare copy (``AV[f,p] = RO[f,M1,p]``) costs nothing.
    """
    c = Counter(n.op for n in walk(e.expr) if isinstance(n, Op))
    if e.reduce_op == "sum":
        if isinstance(e.expr, Op) and e.expr.op == "mul":
            c["mul"] -= 1
            c["mac"] += 1
        else:
            c["add"] += 1
    elif e.reduce_op == "max":
        c["max"] += 1
    return {k: c[k] for k in OP_CLASSES if c[k]}


def einsum_op_counts(e: Einsum, shape: Mapping[str, int]) -> dict[str, int]:
    """Exact op counts of one Einsum by class (every class present, zeros included)."""
    sizes = resolve_sizes(e.space, shape)
    n = iteration_points(e, sizes)
    per = einsum_op_classes(e)
    return {k: per.get(k, 0) * n for k in OP_CLASSES}


def op_counts(c: Cascade, shape: Mapping[str, int], per_einsum: bool = False) -> dict:
    """Exact op counts of a cascade: ``{op: count}``, or ``{einsum: {op: count}}``.

    ``shape`` gives rank sizes (``{"M": 1024, "P": 1024, "E": 64, "F": 64, "M0": 256}``);
    partition outer sizes are derived and entries for ranks the cascade lacks are ignored.
    """
    per = counts_at(c, resolve_sizes(c.space, shape))
    if per_einsum:
        return per
    return {k: sum(d[k] for d in per.values()) for k in OP_CLASSES}


def counts_at(c: Cascade, sizes: Mapping[str, int]) -> dict:
    """:func:`op_counts` per Einsum (``{einsum: {op: count}}``) at ``sizes``, every rank's size
    (:func:`resolve_sizes`)."""
    trips = [it.trips(sizes) for it in c.space.iterations]   # each iteration's steps, once
    per, points = {}, {}   # points: per form (Einsums over the same space share one)
    for name, classes, form in _count_forms(c):
        n = points.get(id(form))
        if n is None:
            n = points[id(form)] = _points(form, sizes, trips)
        per[name] = dict(zip(OP_CLASSES, map(n.__mul__, classes)))
    return per


@lru_cache(maxsize=64)
def _count_forms(c: Cascade) -> tuple:
    """Per Einsum of ``c`` (a cascade is not changed after construction and hashes by
    identity): its name, :func:`einsum_op_classes` (a count per class of ``OP_CLASSES``), and
    :func:`_points_form` (one object per value: Einsums over the same space share it)."""
    out, forms = [], {}
    for e in c.einsums:
        classes = einsum_op_classes(e)
        form = _points_form(e)
        out.append((e.name, tuple(classes.get(k, 0) for k in OP_CLASSES), forms.setdefault(form, form)))
    return tuple(out)


# ----------------------------------------------------------------------------- passes
def _check_rank(c: Cascade, rank: str) -> None:
    if rank not in c.space.ranks:
        raise CascadeError(f"'rank' must be a rank of the cascade ({', '.join(c.space.ranks)}), "
                           f"not {rank!r}", rank=rank)


def pass_levels(c: Cascade, rank: str) -> dict[str, int]:
    """The pass over ``rank`` in which each Einsum runs (0: it does not traverse ``rank``).

    An Einsum *traverses* ``rank`` when its iteration space holds ``rank`` or one of its
    partition ranks. A reduction over the whole of ``rank`` (over ``m``, or over the outer
    partition rank ``m1``) yields a value that is complete only once its pass has ended; an
    Einsum that traverses ``rank`` again and consumes such a value, directly or through
    Einsums that do not traverse ``rank``, must run in a later pass. Reductions over the inner
    partition rank only (``m0``) complete within one partition and do not end a pass. Reading
    a tensor at a constant position of ``rank`` (``RNV[f,M1,p]``, the final running value)
    also waits for the pass to end. Recurrent reads of an iterative tensor (``RD[m1,p]``
    before ``RD[m1+1,p]`` is written) come from the previous step of the same pass.
    """
    _check_rank(c, rank)
    fam = set(c.space.family(rank))
    part = c.space.partition_of(rank)
    across = {rank} | ({part.outer} if part is not None and part.parent == rank else set())
    state: dict[str, tuple[int, bool]] = {}
    levels: dict[str, int] = {}
    for e in c.einsums:
        ins = []
        for r in e.inputs:
            p, done = state.get(r.name, (0, True))
            if any(rk in fam and not ix.variables for rk, ix in zip(r.ranks, r.indices)):
                done = True
            ins.append((p, done))
        pmax = max((p for p, _ in ins), default=0)
        done = any(d for p, d in ins if p == pmax) if ins else True
        if any(rank_of(v) in fam for v in e.variables):
            level = pmax + 1 if done else pmax
            state[e.name] = (level, any(rank_of(v) in across for v in e.reduced))
            levels[e.name] = level
        else:
            state[e.name] = (pmax, done)
            levels[e.name] = 0
    return levels


def passes(c: Cascade, rank: str) -> int:
    """Number of passes over ``rank`` the cascade's dependencies force (0 if never traversed).

    For attention over the key/value rank M: 3 for the 3-pass cascade, 2 for the 2-pass one,
    1 for the 1-pass one (see :func:`pass_levels` for the derivation).
    """
    return max(pass_levels(c, rank).values(), default=0)


def live_tensors(c: Cascade, rank: str) -> tuple[str, ...]:
    """Tensors that must be kept (or re-read) across passes over ``rank``.

    A tensor is live across passes when it is accessed along ``rank`` or its outer partition
    rank (whose size grows with ``rank``) in more than one pass: produced in one pass and read
    in a later one (``QK`` of the 3-pass cascade), or an input read again in a later pass.
    Accesses along the inner partition rank only have a fixed size and do not count.
    """
    levels = pass_levels(c, rank)
    part = c.space.partition_of(rank)
    growing = {rank} | ({part.outer} if part is not None and part.parent == rank else set())
    seen: dict[str, set[int]] = {}
    for e in c.einsums:
        if not levels[e.name]:
            continue
        for r in (e.output, *e.inputs):
            if any(rank_of(v) in growing for v in r.variables):
                seen.setdefault(r.name, set()).add(levels[e.name])
    return tuple(n for n, ps in seen.items() if len(ps) > 1)


def footprint_grows(c: Cascade, rank: str) -> bool:
    """Whether the live footprint grows with the size of ``rank`` (see :func:`live_tensors`).

    True for the 3- and 2-pass attention cascades over M (``QK``, or ``LM``/``SLD``/``SLNV``
    per partition, wait for a later pass), False for the 1-pass cascade, whose running values
    along ``m1`` are consumed one step later in the same pass.
    """
    return bool(live_tensors(c, rank))


__all__ = ["resolve_sizes", "iteration_points", "einsum_op_classes", "einsum_op_counts",
           "op_counts", "pass_levels", "passes", "footprint_grows", "live_tensors"]
