"""Command-line plumbing shared by ``explore``, the study scripts and ``python -m rtl``.

:class:`OneLineParser` reports a usage error as one line (``PROG: error: ...``) and exit
status 2, the project's contract for bad input; :func:`int_arg` and :func:`number_arg` are
``argparse`` types that read a flag with the strict rules of :mod:`arch.numbers` (ASCII
digits, finite, in range), so ``--jobs ²`` or ``--lanes 99999999999999999999`` is refused at
the edge instead of failing deep inside.
"""

from __future__ import annotations

import argparse

from arch.numbers import MAX_INT, MAX_NUMBER, NumberError, parse_int, parse_number


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, ``PROG: error: ...``, and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _type(parse, what: str):
    def convert(text: str):
        try:
            return parse(text)
        except NumberError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix("'value' ")) from None

    convert.__name__ = what
    return convert


def int_arg(lo: int = 1, hi: int = MAX_INT):
    """An ``argparse`` ``type=`` for a strict integer flag in ``[lo, hi]``."""
    return _type(lambda text: parse_int(text, "value", lo, hi), "integer")


def number_arg(lo: float = 0.0, hi: float = MAX_NUMBER, lo_open: bool = False):
    """An ``argparse`` ``type=`` for a strict finite real flag in range."""
    return _type(lambda text: parse_number(text, "value", lo, hi, lo_open), "number")
