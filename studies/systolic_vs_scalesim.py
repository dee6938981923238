"""Systolic GEMMs side by side with SCALE-Sim 3: both cycle counts and each tool's wall time.

SCALE-Sim is never a dependency of this project: install it in a virtual environment of its own
(``python3 -m venv ../scalesim-venv && ../scalesim-venv/bin/pip install scalesim "numpy<2.4"``)
and point this script at that interpreter::

    python -m studies.systolic_vs_scalesim --scalesim-python ../scalesim-venv/bin/python

For every GEMM (M, N, K), array (R x C) and dataflow it writes SCALE-Sim's three inputs (a
``.cfg`` in CALC bandwidth mode with 64 KB SRAMs as its shipped ``configs/scale.cfg``, a GEMM
topology whose rows end with a comma, a layout CSV), runs
``python -m scalesim.scale -c scale.cfg -t gemm.csv -l layout.csv -p OUT -i gemm``, reads
"Total Cycles" from ``COMPUTE_REPORT.csv`` and the SRAM counts from
``DETAILED_ACCESS_REPORT.csv``, and prints them next to this project's analytical figures.
Without SCALE-Sim it prints this project's side only and says so.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from arch.registry import load_arch
from sim.analytical import run
from sim.systolic import lower_gemm, sram_accesses

CASES = [  # (R, C, M, N, K): the published example, non-square arrays, ragged and tiny ranks
    (32, 32, 256, 128, 256), (16, 64, 17, 250, 64), (32, 16, 17, 250, 64), (8, 4, 1, 1, 1),
    (7, 13, 33, 65, 20), (32, 32, 1, 512, 64), (64, 8, 200, 30, 1), (128, 128, 512, 512, 512),
]

CFG = """[general]
run_name = run

[architecture_presets]
ArrayHeight:    {R}
ArrayWidth:     {C}
IfmapSramSzkB:   64
FilterSramSzkB:  64
OfmapSramSzkB:   64
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {df}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height "
                 "Intraline Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter "
                 "Intraline Factor, IFMAP Height Intraline Order, IFMAP Width Intraline Order, Channel "
                 "Intraline Order, IFMAP Height Interline Order, IFMAP Width Interline Order, Channel "
                 "Interline Order, Num Filter Intraline Order, Channel Intraline Order, Filter Height "
                 "Intraline Order, Filter Width Intraline Order, Num Filter Interline Order, Channel "
                 "Interline Order, Filter Height Interline Order, Filter Width Interline Order,\n")
LAYOUT_ROW = "L0,1,1,1,1,1,1,1,2,0,4,5,3,3,0,1,2,7,4,5,6,\n"


def run_scalesim(python: str, R: int, C: int, df: str, M: int, N: int, K: int) -> tuple:
    """(Total Cycles, {ifmap_reads, filter_reads, ofmap_writes}, wall seconds) from SCALE-Sim."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "scale.cfg").write_text(CFG.format(R=R, C=C, df=df))
        (d / "gemm.csv").write_text(f"Layer, M, N, K,\nL0, {M}, {N}, {K},\n")
        (d / "layout.csv").write_text(LAYOUT_HEADER + LAYOUT_ROW)
        t0 = time.perf_counter()
        proc = subprocess.run([python, "-m", "scalesim.scale", "-c", "scale.cfg", "-t", "gemm.csv", "-l",
                               "layout.csv", "-p", "out", "-i", "gemm"], cwd=d, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        report = d / "out" / "run" / "COMPUTE_REPORT.csv"
        if proc.returncode != 0 or not report.is_file():
            raise RuntimeError(f"SCALE-Sim failed on {df} {R}x{C} M={M} N={N} K={K}: {proc.stderr.strip()[-300:]}")
        rows = list(csv.reader(report.open()))
        head = [h.strip() for h in rows[0]]
        cycles = int(float(rows[1][head.index("Total Cycles")]))
        acc = list(csv.reader((d / "out" / "run" / "DETAILED_ACCESS_REPORT.csv").open()))
        ah = [h.strip() for h in acc[0]]
        counts = {"ifmap_reads": int(float(acc[1][ah.index("SRAM IFMAP Reads")])),
                  "filter_reads": int(float(acc[1][ah.index("SRAM Filter Reads")])),
                  "ofmap_writes": int(float(acc[1][ah.index("SRAM OFMAP Writes")]))}
        return cycles, counts, wall


def ours(R: int, C: int, df: str, M: int, N: int, K: int) -> tuple:
    """(cycles, SRAM counts, wall seconds) from this project's analytical engine."""
    t0 = time.perf_counter()
    spec = load_arch("systolic", {"rows": R, "cols": C, "dataflow": df})
    report = run(lower_gemm(spec, M, N, K))
    wall = time.perf_counter() - t0
    return report.cycles, sram_accesses(M, N, K, R, C, df), wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get("SCALESIM_PYTHON", str(Path(__file__).resolve().parents[2] / "scalesim-venv" / "bin" / "python"))
    ap.add_argument("--scalesim-python", default=default, help="interpreter of SCALE-Sim's own venv")
    ap.add_argument("--dataflows", default="os,ws,is")
    args = ap.parse_args(argv)
    have = Path(args.scalesim_python).is_file()
    if not have:
        print(f"SCALE-Sim interpreter {args.scalesim_python} not found: showing this project's figures only")
    print(f"{'df':3} {'R x C':>9} {'M':>5} {'N':>5} {'K':>5} | {'ours':>9} {'scalesim':>9} {'equal':>5} | "
          f"{'ours s':>9} {'scalesim s':>10} {'speedup':>8}")
    mismatches = 0
    t_ours = t_peer = 0.0
    for R, C, M, N, K in CASES:
        for df in args.dataflows.split(","):
            cyc, acc, w = ours(R, C, df, M, N, K)
            t_ours += w
            if have:
                pc, pacc, pw = run_scalesim(args.scalesim_python, R, C, df, M, N, K)
                t_peer += pw
                same = pc == cyc and pacc["ifmap_reads"] == acc["ifmap_reads"] and pacc["filter_reads"] == acc["filter_reads"]
                mismatches += not same
                print(f"{df:3} {R:>4} x{C:>3} {M:>5} {N:>5} {K:>5} | {cyc:>9} {pc:>9} {'yes' if same else 'NO':>5} | "
                      f"{w:>9.5f} {pw:>10.2f} {pw / w:>7.0f}x")
            else:
                print(f"{df:3} {R:>4} x{C:>3} {M:>5} {N:>5} {K:>5} | {cyc:>9} {'-':>9} {'-':>5} | {w:>9.5f}")
    if have:
        print(f"total wall time: ours {t_ours:.3f} s, SCALE-Sim {t_peer:.1f} s; mismatches: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
