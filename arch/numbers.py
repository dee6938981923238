"""Numbers at the edge: every count, size, rate and energy a user types, read once and strictly.

A value reaches the project as text (a ``--set`` or ``--workload`` value, a command-line flag,
a number-as-string in a spec) or as a YAML scalar. :func:`parse_int` and :func:`parse_number`
turn it into an ``int`` or a finite ``float`` inside a documented range, or raise
:class:`NumberError` with one line, ``'<name>' must be <rule>, not <value>``. The rules:

- text is ASCII only: ``[+-]digits`` for an integer, a decimal with an optional exponent for a
  number (``2.5``, ``1e3``, ``.5``); no surrounding or inner spaces, no ``_`` separators, no
  superscript or non-Latin digits (``'²'`` and ``'١٢'`` are refused although Python's ``int``
  or ``str.isdigit`` take some of them), no ``inf`` or ``nan``;
- a YAML or Python value must already have the right type: ``True`` is not ``1``, and an
  integer field refuses ``4.0`` and ``1e308``;
- every value is checked against a lower and an upper bound. The default caps,
  :data:`MAX_INT` (2^48), :data:`MAX_NUMBER` (1e18) and, for a value that must be positive,
  the floor :data:`MIN_POSITIVE` (1e-9), keep products of a few fields inside
  64-bit integers and finite doubles; the loaders give tighter caps where memory or time would
  blow up (array sizes, thread counts, matrix dimensions), and check them before allocating.
"""

from __future__ import annotations

import math
import numbers
import re

from arch.errors import WorkloadError

#: Largest integer any field accepts unless its loader says otherwise.
MAX_INT = 2 ** 48
#: Largest magnitude of any real-valued field unless its loader says otherwise.
MAX_NUMBER = 1e18
#: Smallest value a field that must be positive accepts (with :data:`MAX_NUMBER`, ratios and
#: products of a few fields stay finite doubles).
MIN_POSITIVE = 1e-9
#: Largest clock any spec accepts (MHz): 1 THz.
MAX_CLOCK_MHZ = 1e6

_INT_RE = re.compile(r"[+-]?[0-9]+\Z", re.ASCII)
_NUM_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z", re.ASCII)
_MAX_TEXT = 64   # longer text is not a number anyone meant; refused before conversion


class NumberError(WorkloadError):
    """A number is malformed, not finite, of the wrong kind or out of its range."""


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _int_rule(lo: int) -> str:
    if lo == 1:
        return "a positive integer"
    if lo == 0:
        return "a non-negative integer"
    return f"an integer >= {lo}"


def parse_int(value, name: str, lo: int = 1, hi: int = MAX_INT) -> int:
    """``value`` (an ``int`` or ASCII decimal text) as an integer in ``[lo, hi]``.

    Parameters
    ----------
    value : int or str
        A YAML/Python integer (not ``bool``, not ``float``) or text ``[+-]digits``.
    name : str
        The key or flag named in the message.
    lo, hi : int
        Inclusive bounds.

    Raises
    ------
    NumberError
        ``'<name>' must be a positive integer, not '²'`` (or ``at most <hi>``).
    """
    v = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        v = int(value)
    elif isinstance(value, str) and len(value) <= _MAX_TEXT and _INT_RE.match(value):
        v = int(value)
    if v is None or v < lo:
        raise NumberError(f"'{name}' must be {_int_rule(lo)}, not {_show(value)}")
    if v > hi:
        raise NumberError(f"'{name}' must be at most {hi}, not {_show(value)}")
    return v


def parse_number(value, name: str, lo: float = 0.0, hi: float = MAX_NUMBER, lo_open: bool = False,
                 rule: str | None = None) -> float:
    """``value`` (an ``int``, a ``float`` or ASCII decimal text) as a finite float in range.

    Parameters
    ----------
    value : int, float or str
        Text is ``[+-]`` digits with an optional fraction and exponent; ``inf`` and ``nan``
        are refused, as are ``bool`` values.
    name : str
        The key or flag named in the message.
    lo, hi : float
        Bounds; ``hi`` inclusive, ``lo`` inclusive unless ``lo_open`` (then a value must exceed
        it, and for ``lo`` 0 be at least :data:`MIN_POSITIVE`).
    rule : str, optional
        The rule in the message; by default "a positive number" (``lo_open`` with ``lo`` 0),
        "a non-negative number" (``lo`` 0) or "a number >= lo"; when given, it also words the
        message for a value above ``hi`` (otherwise "at most hi").

    Raises
    ------
    NumberError
        ``'<name>' must be a positive number, not 'inf'`` (or ``at most <hi>``).
    """
    bounded_rule = rule is not None
    if rule is None:
        rule = ("a positive number" if lo_open else "a non-negative number") if lo == 0 else (
            f"a number {'>' if lo_open else '>='} {lo:g}")
    v = None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value) if not isinstance(value, numbers.Integral) or abs(value) <= 2 ** 1000 else math.inf
    elif isinstance(value, str) and len(value) <= _MAX_TEXT and _NUM_RE.match(value):
        v = float(value)
    if v is None or not math.isfinite(v) or v < lo or (lo_open and v == lo):
        raise NumberError(f"'{name}' must be {rule}, not {_show(value)}")
    if lo_open and lo == 0 and v < MIN_POSITIVE:
        raise NumberError(f"'{name}' must be at least {MIN_POSITIVE:g}, not {_show(value)}")
    if v > hi:
        raise NumberError(f"'{name}' must be {rule if bounded_rule else f'at most {hi:g}'}, not {_show(value)}")
    return v
