"""Cascades of extended Einsums: the data structures every workload is written in.

In hardware terms an Einsum is one operator stage of an accelerator pipeline: a loop nest over
named ranks (the iteration space) whose body applies element-wise operators (mul, add, sub,
div, max, exp) to operands read from tensors, optionally folding the results along some ranks
with a reduction operator (sum or max), and writes one output tensor. A cascade is the ordered
list of such stages that together compute a workload, e.g. attention as QK, softmax and AV.

The objects here are plain frozen values built by :func:`mappings.parse.parse` (or by hand) and
checked when a :class:`Cascade` is constructed. Naming follows TeAAL and FuseMax: tensor and
rank names are upper case (``QK``, ``M``), index variables are the lower-case rank names
(``m``, ``m1``). A rank may be *partitioned* (``M`` into ``M1`` and ``M0`` with
``m = m1*M0 + m0``, ``M1 = ceil(M / M0)``, the last partition possibly shorter), and a rank may
be *iterative*: Einsums write ``RM[m1+1,p]`` from ``RM[m1,p]`` step by step, starting from an
``init`` value, until the stop condition holds.

The terms an Einsum is built of (operators, index expressions, references) live in
:mod:`mappings.terms`. Text syntax, op-count classes and error messages are documented in
``docs/cascades.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

from mappings import analysis, structure
from mappings.evaluate import evaluate as evaluate_cascade
from mappings.terms import (MAP_OPS, MAX_DEPTH, OP_CLASSES, RANK_FORMATS, REDUCE_OPS, CascadeError, Const, Index, Op,
                            Projection, Ref, Term, check_depth, rank_of, walk)

#: The terms are re-exported: ``from mappings.einsum import Ref`` keeps working.
__all__ = ["MAP_OPS", "MAX_DEPTH", "OP_CLASSES", "RANK_FORMATS", "REDUCE_OPS", "CascadeError", "Const", "Index", "Op",
           "Projection", "Ref", "Term", "check_depth", "rank_of", "walk", "Partition", "Iteration",
           "Init", "Einsum", "RankSpace", "Cascade", "format_cascade"]


# ----------------------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Partition:
    """Rank ``parent`` split into ``outer`` and ``inner``: ``parent_index = outer*INNER + inner``."""

    parent: str
    outer: str
    inner: str


@dataclass(frozen=True)
class Iteration:
    """Iterative rank: variable ``var`` runs 0, 1, ... until ``var <cmp> bound`` holds."""

    var: str
    cmp: str  # ">=", ">" or "=="
    bound: Index

    def trips(self, sizes: Mapping[str, int]) -> int:
        """Number of steps taken (closed form of the stop condition)."""
        b = int(self.bound.value({}, sizes))
        return max(0, b + 1 if self.cmp == ">" else b)

    def __str__(self) -> str:
        return f"iterate {self.var} until {self.var} {self.cmp} {self.bound}"


@dataclass(frozen=True)
class Init:
    """Initial value of an iterative tensor, ``init RM[0,p] = -inf``."""

    ref: Ref
    value: float
    line: int = 0


# ----------------------------------------------------------------------------- Einsum
@dataclass(frozen=True)
class Einsum:
    """One extended Einsum: ``output = reduce_op[reduced](expr)``.

    Attributes
    ----------
    output : Ref
        The output tensor reference; ``output.ranks`` are its ranks (see ``output_ranks``).
    expr : Ref, Const or Op
        The element-wise right-hand side.
    reduce_op : {"sum", "max"} or None
        The reduction operator, None when nothing is reduced.
    reduced : tuple of str
        Reduced index variables (``("m",)``); their ranks are ``reduced_ranks``.
    line : int
        Line of the cascade text it came from (0 when built by hand).
    """

    output: Ref
    expr: object
    reduce_op: str | None = None
    reduced: tuple[str, ...] = ()
    line: int = 0
    implicit_sum: bool = field(default=False, compare=False)
    space: object = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The output tensor's name, which names the Einsum."""
        return self.output.name

    @property
    def output_ranks(self) -> tuple[str | None, ...]:
        return self.output.ranks

    @property
    def inputs(self) -> tuple[Ref, ...]:
        """Tensor references read by the right-hand side, in order of appearance."""
        return tuple(n for n in walk(self.expr) if isinstance(n, Ref))

    @property
    def input_tensors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.name for r in self.inputs))

    @property
    def map_ops(self) -> tuple[str, ...]:
        """Element-wise operators of the right-hand side, outermost first."""
        return tuple(n.op for n in walk(self.expr) if isinstance(n, Op))

    @property
    def reduced_ranks(self) -> tuple[str, ...]:
        return tuple(rank_of(v) for v in self.reduced)

    @property
    def variables(self) -> tuple[str, ...]:
        """Index variables of the iteration space: output ones first, then the others."""
        seen: dict[str, None] = {}
        for r in (self.output, *self.inputs):
            for v in r.variables:
                seen.setdefault(v)
        return tuple(seen)

    @property
    def ranks(self) -> tuple[str, ...]:
        """Ranks of the iteration space."""
        return tuple(rank_of(v) for v in self.variables)

    def op_classes(self) -> dict[str, int]:
        """Operations per valid iteration point, by class (see docs/cascades.md)."""
        return analysis.einsum_op_classes(self)

    def op_counts(self, shape: Mapping[str, int]) -> dict[str, int]:
        """Exact operation counts by class for rank sizes ``shape`` (closed form)."""
        return analysis.einsum_op_counts(self, shape)

    def __str__(self) -> str:
        red = f"{self.reduce_op}[{','.join(self.reduced)}] " if self.reduce_op and \
            not self.implicit_sum else ""
        return f"{self.output} = {red}{self.expr}"


# ----------------------------------------------------------------------------- Cascade
@dataclass(frozen=True)
class RankSpace:
    """Declared ranks with their partitions and iterations (shared by a cascade's Einsums)."""

    ranks: tuple[str, ...]
    partitions: tuple[Partition, ...] = ()
    iterations: tuple[Iteration, ...] = ()
    defaults: Mapping[str, int] = field(default_factory=dict)

    def partition_of(self, rank: str) -> Partition | None:
        """The partition in which ``rank`` is the parent, outer or inner rank."""
        for p in self.partitions:
            if rank in (p.parent, p.outer, p.inner):
                return p
        return None

    def iteration_of(self, var: str) -> Iteration | None:
        return next((it for it in self.iterations if it.var == var), None)

    def family(self, rank: str) -> tuple[str, ...]:
        """``rank`` and, when it is a partitioned parent, its outer and inner ranks."""
        p = self.partition_of(rank)
        return (rank, p.outer, p.inner) if p is not None and p.parent == rank else (rank,)


class Cascade:
    """An ordered cascade of extended Einsums over declared ranks.

    Construction validates the cascade; every problem raises a :class:`CascadeError` naming
    the Einsum and the rank. Build one with :func:`mappings.parse`, or take one from
    :mod:`mappings.library`.

    Attributes
    ----------
    einsums : tuple of Einsum
        In execution order.
    ranks : tuple of str
        Declared rank names (partition ranks included).
    space : RankSpace
        Ranks with their partitions, iterations and default sizes.
    inits : tuple of Init
        Initial values of iterative tensors.
    inputs, outputs : tuple of str
        Tensors read but never produced (and not initialised); tensors produced but never read.
    tensor_ranks : Mapping[str, tuple]
        Every tensor -> the rank of each of its axes; an axis read through an affine index
        (``I[c,p+r]``) has a derived dimension named by its ranks (``'P+R'``).
    pads : Mapping[str, float]
        Padded tensors -> the value read outside their stored extent (``pad I = 0``).
    formats : Mapping[str, tuple]
        Tensors stored sparse -> their ranks in storage order, each with its format, ``"U"``
        (uncompressed: every coordinate has a slot) or ``"C"`` (compressed: only non-empty
        coordinates are stored): ``format A[M,K] = U, C`` is CSR, ``(("M", "U"), ("K", "C"))``.
        A tensor not named is dense (every rank uncompressed, in its index order).
    """

    def __init__(self, einsums, *, ranks=None, partitions=(), iterations=(), inits=(),
                 defaults=None, pads=None, formats=None, name: str = "cascade"):
        einsums, inits = tuple(einsums), tuple(inits)
        for e in einsums:
            check_depth(e.expr, e.name)
        self.pads = MappingProxyType(dict(pads or {}))
        self.formats = MappingProxyType({t: tuple((str(r), str(f)) for r, f in v)
                                         for t, v in (formats or {}).items()})
        if ranks is None:  # no declarations: every rank used is implicitly declared
            ranks = structure.ranks_used(einsums, inits, partitions, iterations)
        self.name = name
        self.space = RankSpace(tuple(ranks), tuple(partitions), tuple(iterations),
                               MappingProxyType(dict(defaults or {})))
        self.tensor_ranks, annotate = structure.assign_ranks(self.space, einsums, inits)
        self.einsums = tuple(replace(e, output=annotate(e.output), expr=_map_refs(e.expr, annotate),
                                     space=self.space) for e in einsums)
        self.inits = tuple(replace(i, ref=annotate(i.ref)) for i in inits)
        produced = {e.name for e in self.einsums}
        read = [r.name for e in self.einsums for r in e.inputs]
        initialised = {i.ref.name for i in self.inits}
        self.inputs = tuple(dict.fromkeys(n for n in read if n not in produced
                                          and n not in initialised))
        self.outputs = tuple(dict.fromkeys(e.name for e in self.einsums if e.name not in read))
        structure.validate(self)

    # -- structure ------------------------------------------------------------------------
    @property
    def ranks(self) -> tuple[str, ...]:
        return self.space.ranks

    def einsum(self, name: str) -> Einsum:
        """The (last) Einsum producing tensor ``name``."""
        found = [e for e in self.einsums if e.name == name]
        if not found:
            raise CascadeError(f"'einsum' must name an Einsum of the cascade "
                               f"({', '.join(e.name for e in self.einsums)}), not {name!r}")
        return found[-1]

    def rank_sizes(self, shape: Mapping[str, int]) -> dict[str, int]:
        """Sizes of every declared rank from ``shape`` (partition sizes derived, extras ignored)."""
        return analysis.resolve_sizes(self.space, shape)

    def batched(self, *ranks: str) -> "Cascade":
        """The same cascade with leading ranks (e.g. ``"B", "H"``) added to every tensor.

        Batch and head ranks are independent copies of the whole computation: every tensor
        reference, output and init gains the leading indices ``b, h``; op counts scale by
        ``B*H``; the pass structure over the other ranks is unchanged.
        """
        for r in ranks:
            if not (r.isidentifier() and r.isupper()) or r in self.space.ranks:
                raise CascadeError(f"'batch rank' must be a new upper-case rank name, not {r!r}",
                                   rank=r)
        lead = tuple(Index.var(r.lower()) for r in ranks)

        def add(ref: Ref) -> Ref:
            return Ref(ref.name, lead + ref.indices)

        return Cascade([replace(e, output=add(e.output), expr=_map_refs(e.expr, add), space=None)
                        for e in self.einsums],
                       ranks=tuple(ranks) + self.space.ranks, partitions=self.space.partitions,
                       iterations=self.space.iterations,
                       inits=[replace(i, ref=add(i.ref)) for i in self.inits],
                       defaults=self.space.defaults, pads=self.pads, name=self.name,
                       formats={t: tuple((r, "U") for r in ranks) + f for t, f in self.formats.items()})

    # -- evaluation and analysis ----------------------------------------------------------
    def evaluate(self, tensors: Mapping, ranks: Mapping[str, int] | None = None):
        """Compute every tensor of the cascade with numpy (a reference, not a fast path).

        See :func:`mappings.evaluate.evaluate`.
        """
        return evaluate_cascade(self, tensors, ranks)

    def passes(self, rank: str) -> int:
        """Number of passes over ``rank`` the cascade's dependencies force (FuseMax's measure)."""
        return analysis.passes(self, rank)

    def footprint_grows(self, rank: str) -> bool:
        """Whether the live footprint must grow with the size of ``rank``."""
        return analysis.footprint_grows(self, rank)

    def live_tensors(self, rank: str) -> tuple[str, ...]:
        """Tensors kept (or re-read) across passes over ``rank``, which make the footprint grow."""
        return analysis.live_tensors(self, rank)

    def op_counts(self, shape: Mapping[str, int], per_einsum: bool = False) -> dict:
        """Exact operation counts by class (``{op: count}``), or per Einsum when asked.

        Counts depend only on the sizes of this cascade's ranks, so they are remembered per
        shape: a sweep that evaluates the same layer on many machines counts it once.
        """
        key = (tuple(sorted((r, shape[r]) for r in self.ranks if r in shape)), per_einsum)
        cache = self.__dict__.setdefault("_op_count_cache", {})
        if key not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[key] = analysis.op_counts(self, shape, per_einsum=per_einsum)
        hit = cache[key]
        return {k: dict(v) for k, v in hit.items()} if per_einsum else dict(hit)

    def __str__(self) -> str:
        return format_cascade(self)

    def __repr__(self) -> str:
        return f"<Cascade {self.name}: {len(self.einsums)} Einsums, inputs {self.inputs}, " \
               f"outputs {self.outputs}>"


def _map_refs(expr, fn):
    """Rebuild an expression with ``fn`` applied to every tensor reference."""
    if isinstance(expr, Ref):
        return fn(expr)
    if isinstance(expr, Op):
        return Op(expr.op, tuple(_map_refs(a, fn) for a in expr.args))
    return expr


def format_cascade(c: Cascade) -> str:
    """Cascade text that :func:`mappings.parse.parse` reads back into an equal cascade."""
    d = c.space.defaults
    implied = {r for p in c.space.partitions for r in (p.outer, p.inner) if r not in d}
    decl = [r + (f" = {d[r]}" if r in d else "") for r in c.space.ranks if r not in implied]
    lines = [f"# {c.name}", "rank " + ", ".join(decl)]
    lines += [f"partition {p.parent} into {p.outer}, {p.inner}" for p in c.space.partitions]
    lines += [str(it) for it in c.space.iterations]
    lines += [f"init {i.ref} = {Const(i.value)}" for i in c.inits]
    lines += [f"pad {n} = {Const(v)}" for n, v in c.pads.items()]
    lines += [f"format {n}[{','.join(r for r, _ in f)}] = {', '.join(k for _, k in f)}"
              for n, f in c.formats.items()]
    lines += [str(e) for e in c.einsums]
    return "\n".join(lines) + "\n"
