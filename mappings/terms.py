"""The terms of extended Einsums: operators, index expressions, tensor references, constants.

In hardware terms these are the parts of one operator stage's loop body: which element of
which tensor a PE reads (``K[e, m1*M0 + m0]``), the element-wise operators it applies and
the operator classes that op counts report. :mod:`mappings.einsum` builds Einsums and
cascades from them; the modules that analyse, validate and evaluate cascades
(:mod:`mappings.analysis`, :mod:`mappings.structure`, :mod:`mappings.evaluate`) need only
these terms, so they sit below the :class:`~mappings.einsum.Cascade` that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

from arch.errors import WorkloadError

#: Element-wise operators: name -> number of operands.
MAP_OPS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "max": 2, "exp": 1,
           "sqrt": 1, "rsqrt": 1, "tanh": 1, "erf": 1}
#: Reduction operators.
REDUCE_OPS = ("sum", "max")
#: Per-rank storage formats of a sparse tensor (``format`` statement): uncompressed, compressed.
RANK_FORMATS = ("U", "C")
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
