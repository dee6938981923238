"""Sizes in a cascade mapping that follow the hardware: ``pe2d.rows``, ``fit(pe2d.cols)``.

In hardware terms a mapping written for one array should still mean something on an array of
another size: FuseMax's 2D array spreads a tile of ``rows x cols`` scores whatever ``rows`` and
``cols`` are, and its query tile is as large as the global buffer holds. So wherever a mapping
file takes a size (a spatial factor, a per-level tile, a fusion group's loop tile) it may write
an expression instead of an integer (docs/mapping.md, "Sizes that follow the hardware"):

* integers, ``+``, ``-``, ``*``, ``//``, parentheses, ``min(a, b, ...)``, ``max(a, b, ...)``;
* ``UNIT.rows``, ``UNIT.cols``, ``UNIT.pes``: a compute unit's array dimensions (a 1D unit has
  ``rows = pes`` and ``cols = 1``);
* a rank's name (upper case): in a spatial factor, the Einsum's tile of that rank in its
  group (``min(pe2d.cols, P)`` spreads a tile of fewer queries than columns over only as many
  columns); elsewhere the rank's size;
* ``fit(STEP)``, only as a fusion group's loop tile: the largest multiple of ``STEP`` that
  divides the rank (rounded up to a multiple of ``STEP``) and with which the group's buffer
  holds what it must (:func:`mappings.cascade_plan.plan` picks it).

The text is parsed by Python's own expression grammar (:mod:`ast`) and only the forms above are
accepted; a bad one is refused with one :class:`MappingError` line naming the key path.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from arch.errors import MappingError

#: Array dimensions a size may read from a compute unit.
DIMS = ("rows", "cols", "pes")
_FUNCS = ("min", "max", "fit")
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.FloorDiv: lambda a, b: a // b}


@dataclass(frozen=True)
class Size:
    """A size written as an expression (see the module docstring); ``where`` is the file and
    key path it was read from (for messages; not part of equality)."""

    text: str
    where: str = field(default="", compare=False)

    def __post_init__(self):
        problem = _parse(self.text)[1]
        if problem:
            self.fail(problem)

    @property
    def is_fit(self) -> bool:
        """True when the size is ``fit(STEP)``: the plan chooses it."""
        body = _parse(self.text)[0].body
        return isinstance(body, ast.Call) and body.func.id == "fit"

    @property
    def ranks(self) -> tuple:
        """The ranks the size names (its value depends on their tiles or sizes)."""
        return _ranks(self.text)

    @property
    def reads_ranks(self) -> bool:
        """True when the size names a rank."""
        return bool(_ranks(self.text))

    def value(self, units, ranks) -> int:
        """The size on compute units ``units`` (name -> unit) with rank values ``ranks``;
        for ``fit(STEP)``, the step. Raises :class:`MappingError` naming the key path.
        Kept per the unit dimensions and rank values it reads (:func:`_kept_value`)."""
        dims = []
        for name in _units(self.text):
            unit = units.get(name)
            if unit is None:
                return self._value(units, ranks)   # refused, naming the spec's units
            dims.append((name, dims_of(unit)))
        read = tuple([(r, ranks[r]) for r in self.ranks if r in ranks])
        if len(read) < len(self.ranks):
            return self._value(units, ranks)       # refused, naming the ranks there are
        return _kept_value(self, tuple(dims), read)

    def _value(self, units, ranks) -> int:
        body = _parse(self.text)[0].body
        if self.is_fit:
            body = body.args[0]
        v = _eval(body, units, ranks, self)
        if v < 1:
            self.fail(f"evaluates to {v}, which is not a size >= 1")
        return v

    def fail(self, message: str):
        raise MappingError(f"{self.where or '<mapping>'}: {self.text!r} {message}")

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=1024)
def _parse(text: str) -> tuple:
    """(syntax tree, problem or ""): the text checked against the forms of the module
    docstring (memoised on the text itself)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None, "is not a size expression (integers, + - * //, min, max, fit, UNIT.rows, ranks)"
    try:
        _check(tree)
    except ValueError as err:
        return None, str(err)
    return tree, ""


class Dims(NamedTuple):
    """A compute unit's array dimensions, what a size reads of it (hashable)."""

    rows: int
    cols: int
    pes: int


def dims_of(unit) -> Dims:
    """The :class:`Dims` of a spec's compute ``unit``."""
    return Dims(unit.rows, unit.cols, unit.pes)


@lru_cache(maxsize=4096)
def _kept_value(size: Size, dims: tuple, read: tuple) -> int:
    """:meth:`Size.value` of ``size`` on units of dimensions ``dims`` ((name, :class:`Dims`)
    pairs) with rank values ``read`` ((rank, value) of every rank it names); a refusal is
    raised again on every call (``lru_cache`` keeps only results, so its message names the
    size's own key path)."""
    return size._value(dict(dims), dict(read))


@lru_cache(maxsize=1024)
def _units(text: str) -> tuple:
    """The compute units the (checked) size ``text`` reads as ``UNIT.rows``, in order."""
    return tuple(dict.fromkeys(n.value.id for n in ast.walk(_parse(text)[0]) if isinstance(n, ast.Attribute)))


@lru_cache(maxsize=1024)
def _ranks(text: str) -> tuple:
    """The ranks the (checked) size ``text`` names: names that are neither a unit read as
    ``UNIT.rows`` nor a function, in order of appearance."""
    tree = _parse(text)[0]
    not_ranks = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            not_ranks.add(id(node.value))
        elif isinstance(node, ast.Call):
            not_ranks.add(id(node.func))
    return tuple(dict.fromkeys(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in not_ranks))


def _check(tree) -> None:
    def bad(message):
        raise ValueError(message)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords or not node.args:
                bad(f"calls something other than {', '.join(_FUNCS)}")
            if node.func.id == "fit" and (node is not tree.body or len(node.args) != 1):
                bad("uses fit(STEP) other than as the whole size")
        elif isinstance(node, ast.Attribute):
            if not isinstance(node.value, ast.Name) or node.attr not in DIMS:
                bad(f"reads something other than UNIT.{'/'.join(DIMS)}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPS:
                bad("uses an operator other than + - * //")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int):
                bad(f"has a constant that is not an integer: {node.value!r}")
        elif not isinstance(node, (ast.Expression, ast.Name, ast.Load, ast.operator)):
            bad(f"has a {type(node).__name__} (integers, + - * //, min, max, fit, UNIT.rows, ranks)")


def _eval(node, units, ranks, size: Size) -> int:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, units, ranks, size), _eval(node.right, units, ranks, size)
        if isinstance(node.op, ast.FloorDiv) and b == 0:
            size.fail("divides by zero")
        return _OPS[type(node.op)](a, b)
    if isinstance(node, ast.Call):
        args = [_eval(a, units, ranks, size) for a in node.args]
        return min(args) if node.func.id == "min" else max(args)
    if isinstance(node, ast.Attribute):
        unit = units.get(node.value.id)
        if unit is None:
            size.fail(f"names {node.value.id!r}, not a compute unit of the spec (units: {', '.join(units)})")
        return {"rows": unit.rows, "cols": unit.cols, "pes": unit.pes}[node.attr]
    if node.id not in ranks:
        size.fail(f"names {node.id!r}, not a rank here (ranks: {', '.join(ranks)})")
    return ranks[node.id]


def size_of(v, where: str = ""):
    """``v`` as a mapping size: an ``int`` stays one, text becomes a :class:`Size`."""
    if isinstance(v, Size):
        return v
    if isinstance(v, str):
        return Size(v, where)
    return int(v)


def resolve(v, units, ranks) -> int:
    """The integer value of a size (an ``int`` or a :class:`Size`; ``fit``: its step)."""
    return v if isinstance(v, int) else v.value(units, ranks)


@lru_cache(maxsize=1024)
def fit_candidates(step: int, size: int) -> tuple:
    """Tiles ``fit(step)`` may take over a rank of ``size``, largest first: ``step * d`` for
    every divisor ``d`` of ``ceil(size / step)``, at most ``size`` (the last tile of a rank that
    is not a multiple of ``step`` is an edge tile), each once."""
    n = -(-size // step)
    divs, m, p = [1], n, 2   # the divisors, from n's prime factors (trial division)
    while p * p <= m:
        k = 0
        while m % p == 0:
            m //= p
            k += 1
        divs = [d * p ** i for d in divs for i in range(k + 1)]
        p += 1 if p == 2 else 2
    if m > 1:
        divs += [d * m for d in divs]
    return tuple(dict.fromkeys(min(step * d, size) for d in sorted(divs, reverse=True)))
