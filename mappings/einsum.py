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

Text syntax, op-count classes and error messages are documented in ``docs/cascades.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Iterator, Mapping

from arch.errors import WorkloadError

#: Element-wise operators: name -> number of operands.
MAP_OPS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "max": 2, "exp": 1,
           "sqrt": 1, "rsqrt": 1, "tanh": 1, "erf": 1}
#: Reduction operators.
REDUCE_OPS = ("sum", "max")
#: Operator classes reported by op counts.
OP_CLASSES = ("mac", "mul", "add", "sub", "max", "exp", "div", "sqrt", "rsqrt", "tanh", "erf")


class CascadeError(WorkloadError):
    """A cascade is malformed (syntax, undeclared rank, rank mismatch, ordering, operator).

    Attributes
    ----------
    einsum : str or None
        Name (output tensor) of the Einsum concerned, when there is one.
    rank : str or None
        The rank concerned, when there is one.
    line, column : int or None
        1-based position in the cascade text, for syntax errors.
    """

    def __init__(self, message: str, *, einsum: str | None = None, rank: str | None = None,
                 line: int | None = None, column: int | None = None):
        self.einsum, self.rank, self.line, self.column = einsum, rank, line, column
        super().__init__(message)


def rank_of(var: str) -> str:
    """Rank name of an index variable (``m1`` -> ``M1``)."""
    return var.upper()


# ----------------------------------------------------------------------------- index expressions
@dataclass(frozen=True)
class Term:
    """One product in an affine index expression: ``const * var * shape1 * shape2 ...``.

    ``var`` is an index variable (lower case) or None; ``shapes`` are rank names whose sizes
    multiply the term (``M0`` in ``m1*M0``). ``const`` is a positive integer coefficient, or
    any integer for a constant term (``-1`` in ``q+s-1``).
    """

    const: int = 1
    var: str | None = None
    shapes: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = ([str(self.const)] if self.const != 1 or (self.var is None and not self.shapes)
                 else []) + ([self.var] if self.var else []) + list(self.shapes)
        return "*".join(parts)


@dataclass(frozen=True)
class Index:
    """An affine index expression on one tensor axis.

    ``m``, ``m1+1``, ``m1*M0+m0``, ``M1``, ``0``, and sums of index variables with integer
    coefficients and an integer offset: ``p+r``, ``2*p+r`` (stride 2), ``p+2*r`` (dilation 2),
    ``q+s-1``.
    """

    terms: tuple[Term, ...]

    @classmethod
    def var(cls, name: str) -> "Index":
        return cls((Term(var=name),))

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(t.var for t in self.terms if t.var is not None)

    @property
    def is_affine(self) -> bool:
        """True for a sum of index variables that is not one variable plus an offset.

        ``p+r``, ``2*p+r-1``, ``2*p``: the axis it indexes is a derived dimension whose
        extent follows from the ranks (:meth:`Projection.extents`).
        """
        var_terms = [t for t in self.terms if t.var is not None]
        return bool(var_terms) and not any(t.shapes for t in self.terms) and \
            (len(var_terms) > 1 or var_terms[0].const != 1)

    @property
    def is_plain(self) -> bool:
        """True when the expression is a bare index variable."""
        return len(self.terms) == 1 and self.terms[0] == Term(var=self.terms[0].var) \
            and self.terms[0].var is not None

    def value(self, env: Mapping[str, object], sizes: Mapping[str, int]):
        """Evaluate with index variables from ``env`` (ints or numpy arrays) and rank sizes."""
        total = 0
        for t in self.terms:
            v = t.const
            for s in t.shapes:
                v = v * sizes[s]
            if t.var is not None:
                v = v * env[t.var]
            total = total + v
        return total

    def projection(self, sizes: Mapping[str, int] | None = None) -> tuple[tuple, int]:
        """``(((coefficient, rank), ...), offset)``: this index as an affine map of the ranks.

        Rank-size factors (``M0`` in ``m1*M0``, the constant ``M1``) are multiplied out with
        ``sizes``; :class:`CascadeError` names the rank when its size is not given.
        """
        terms, offset = [], 0
        for t in self.terms:
            coef = t.const
            for s in t.shapes:
                if sizes is None or s not in sizes:
                    raise CascadeError(f"the projection of index '{self}' needs the size of rank "
                                       f"{s!r}", rank=s)
                coef *= int(sizes[s])
            if t.var is None:
                offset += coef
            else:
                terms.append((coef, rank_of(t.var)))
        return tuple(terms), offset

    def __str__(self) -> str:
        text = ""
        for k, t in enumerate(self.terms):
            s = str(t)
            text += s if k == 0 or s.startswith("-") else "+" + s
        return text


# ----------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Ref:
    """A tensor reference ``NAME[i0, i1, ...]``; ``ranks`` is filled in by the cascade."""

    name: str
    indices: tuple[Index, ...]
    ranks: tuple[str | None, ...] = field(default=(), compare=False)

    @property
    def variables(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for ix in self.indices:
            for v in ix.variables:
                seen.setdefault(v)
        return tuple(seen)

    def projection(self, sizes: Mapping[str, int] | None = None) -> "Projection":
        """How this reference's indices follow the iteration space (see :class:`Projection`).

        Parameters
        ----------
        sizes : mapping of str to int, optional
            Rank sizes; needed only by partition indices (``m1*M0+m0``) and rank-size
            constants (``M1``), whose coefficients and offsets are rank sizes.
        """
        per_axis = [ix.projection(sizes) for ix in self.indices]
        return Projection(tuple(t for t, _ in per_axis), tuple(o for _, o in per_axis))

    def __str__(self) -> str:
        return f"{self.name}[{','.join(str(i) for i in self.indices)}]"


@dataclass(frozen=True)
class Projection:
    """A tensor reference as an affine map from the iteration space to the tensor's axes.

    Axis ``a`` of the tensor is read at ``sum(coef * index(rank) for coef, rank in
    terms[a]) + offsets[a]``: ``I[c,2*p+r]`` is ``terms = (((1, 'C'),), ((2, 'P'), (1, 'R')))``,
    ``offsets = (0, 0)``; a plain rank ``m`` is ``((1, 'M'),)``; the constant ``0`` is ``()``.
    Coefficients are positive integers (a partition's outer coefficient is the inner rank's
    size); offsets are integers, negative for ``q+s-1``.
    """

    terms: tuple[tuple[tuple[int, str], ...], ...]
    offsets: tuple[int, ...]

    def extents(self, counts: Mapping[str, int]) -> tuple[int, ...]:
        """Derived extent of each axis: its largest index plus one (elements).

        For ``coef_p*p + coef_r*r + c`` that is ``coef_p*(P-1) + coef_r*(R-1) + c + 1``, where
        ``counts`` gives the number of values each rank's index takes (P, R).
        """
        return tuple(sum(c * (counts[r] - 1) for c, r in terms) + off + 1
                     for terms, off in zip(self.terms, self.offsets))


@dataclass(frozen=True)
class Const:
    """A numeric constant operand (``0``, ``-inf``)."""

    value: float

    def __str__(self) -> str:
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(self.value, repr(self.value))


@dataclass(frozen=True)
class Op:
    """An element-wise operator applied to operands (``mul``, ``exp``, ...)."""

    op: str
    args: tuple

    def __str__(self) -> str:
        return _fmt(self, 0)


_INFIX = {"add": ("+", 1), "sub": ("-", 1), "mul": ("*", 2), "div": ("/", 2)}


def _fmt(node, need: int) -> str:
    """Text of an expression with the fewest parentheses that keep its meaning."""
    if not isinstance(node, Op):
        return str(node)
    if node.op in _INFIX:
        sym, prec = _INFIX[node.op]
        text = f"{_fmt(node.args[0], prec)} {sym} {_fmt(node.args[1], prec + 1)}"
        return f"({text})" if prec < need else text
    return f"{node.op}({', '.join(_fmt(a, 0) for a in node.args)})"


Expr = Ref | Const | Op


def walk(expr) -> Iterator:
    """Yield every node of an expression, operators before their operands (left to right)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Op):
            stack.extend(reversed(node.args))


#: Deepest operator nesting a right-hand side may have (operators on one root-to-leaf path).
MAX_DEPTH = 100


def check_depth(expr, einsum: str) -> None:
    """Refuse a right-hand side nested deeper than :data:`MAX_DEPTH` operators.

    Everything downstream (printing, evaluation, rank annotation) walks expressions
    recursively; the cap keeps them far from Python's recursion limit.
    """
    deepest, stack = 0, [(expr, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Op):
            depth += 1
            deepest = max(deepest, depth)
            stack.extend((a, depth) for a in node.args)
    if deepest > MAX_DEPTH:
        raise CascadeError(f"Einsum {einsum!r}: the right-hand side nests {deepest} operators "
                           f"deep; at most {MAX_DEPTH} are allowed (split it into several "
                           f"Einsums)", einsum=einsum)


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
        from mappings.analysis import einsum_op_classes
        return einsum_op_classes(self)

    def op_counts(self, shape: Mapping[str, int]) -> dict[str, int]:
        """Exact operation counts by class for rank sizes ``shape`` (closed form)."""
        from mappings.analysis import einsum_op_counts
        return einsum_op_counts(self, shape)

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
    """

    def __init__(self, einsums, *, ranks=None, partitions=(), iterations=(), inits=(),
                 defaults=None, pads=None, name: str = "cascade"):
        from mappings.structure import assign_ranks, ranks_used, validate

        einsums, inits = tuple(einsums), tuple(inits)
        for e in einsums:
            check_depth(e.expr, e.name)
        self.pads = MappingProxyType(dict(pads or {}))
        if ranks is None:  # no declarations: every rank used is implicitly declared
            ranks = ranks_used(einsums, inits, partitions, iterations)
        self.name = name
        self.space = RankSpace(tuple(ranks), tuple(partitions), tuple(iterations),
                               MappingProxyType(dict(defaults or {})))
        self.tensor_ranks, annotate = assign_ranks(self.space, einsums, inits)
        self.einsums = tuple(replace(e, output=annotate(e.output), expr=_map_refs(e.expr, annotate),
                                     space=self.space) for e in einsums)
        self.inits = tuple(replace(i, ref=annotate(i.ref)) for i in inits)
        produced = {e.name for e in self.einsums}
        read = [r.name for e in self.einsums for r in e.inputs]
        initialised = {i.ref.name for i in self.inits}
        self.inputs = tuple(dict.fromkeys(n for n in read if n not in produced
                                          and n not in initialised))
        self.outputs = tuple(dict.fromkeys(e.name for e in self.einsums if e.name not in read))
        validate(self)

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
        from mappings.analysis import resolve_sizes
        return resolve_sizes(self.space, shape)

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
                       defaults=self.space.defaults, pads=self.pads, name=self.name)

    # -- evaluation and analysis ----------------------------------------------------------
    def evaluate(self, tensors: Mapping, ranks: Mapping[str, int] | None = None):
        """Compute every tensor of the cascade with numpy (a reference, not a fast path).

        See :func:`mappings.evaluate.evaluate`.
        """
        from mappings.evaluate import evaluate
        return evaluate(self, tensors, ranks)

    def passes(self, rank: str) -> int:
        """Number of passes over ``rank`` the cascade's dependencies force (FuseMax's measure)."""
        from mappings.analysis import passes
        return passes(self, rank)

    def footprint_grows(self, rank: str) -> bool:
        """Whether the live footprint must grow with the size of ``rank``."""
        from mappings.analysis import footprint_grows
        return footprint_grows(self, rank)

    def live_tensors(self, rank: str) -> tuple[str, ...]:
        """Tensors kept (or re-read) across passes over ``rank``, which make the footprint grow."""
        from mappings.analysis import live_tensors
        return live_tensors(self, rank)

    def op_counts(self, shape: Mapping[str, int], per_einsum: bool = False) -> dict:
        """Exact operation counts by class (``{op: count}``), or per Einsum when asked.

        Counts depend only on the sizes of this cascade's ranks, so they are remembered per
        shape: a sweep that evaluates the same layer on many machines counts it once.
        """
        from mappings.analysis import op_counts
        key = (tuple(sorted((r, shape[r]) for r in self.ranks if r in shape)), per_einsum)
        cache = self.__dict__.setdefault("_op_count_cache", {})
        if key not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[key] = op_counts(self, shape, per_einsum=per_einsum)
        hit = cache[key]
        return {k: dict(v) for k, v in hit.items()} if per_einsum else dict(hit)

    def __str__(self) -> str:
        from mappings.parse import format_cascade
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
