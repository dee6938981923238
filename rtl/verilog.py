"""Verilog emission of the ternary unit (``amaranth.back.verilog``).

The emitted module has the ports ``clk`` and ``rst`` (synchronous, active high) plus the
component's signature flattened with ``__`` (``cmd__valid``, ``cmd__payload``, ``act__ready``,
``result__payload``, ``gated``, ``error``, ``busy``, ...).
"""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

from rtl.ternary import TernaryUnit

TOP = "ternary_unit"


def emit(*, lanes, act_width=8, max_rows=4096, max_cols=4096, acc_width=None, name=TOP) -> str:
    """Verilog text of a :class:`rtl.ternary.TernaryUnit` with these parameters."""
    dut = TernaryUnit(lanes=lanes, act_width=act_width, max_rows=max_rows, max_cols=max_cols,
                      acc_width=acc_width)
    return verilog.convert(dut, name=name)


def write(path, **params) -> Path:
    """Write :func:`emit`'s text to ``path``; returns the path."""
    path = Path(path)
    path.write_text(emit(**params))
    return path
