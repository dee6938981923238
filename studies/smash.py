"""SMASH study: speedup of every SpGEMM kernel over the best non-hashing kernel, on real matrices
and R-MAT graphs, on the PIUMA-like machine.

The non-hashing kernels are ``inner``, ``outer`` and ``rowwise-dram``; for each matrix the
fastest of them is the baseline, and every kernel's speedup is baseline cycles / its cycles.
Each row carries the counts that explain it: flops, nnz(Z), DRAM bytes and bandwidth
utilization, hash probes and collisions, atomics, thread occupancy, and for the hashing kernels
how many rows fell back to a DRAM table or had their table fragmented over the scratchpads.

The SMASH thesis (Shivdikar 2021, arXiv 2105.14156) reports 9.4x for its best kernel against
competing kernels on PIUMA; ``docs/spgemm.md`` says where this model lands and why.

Usage::

    python -m studies.smash                     # real matrices + R-MAT scales 12..16
    python -m studies.smash --max-scale 13      # quicker
    explore --study smash --format json
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from arch.registry import load_arch
from sim.spgemm import KERNELS
from studies.families import spgemm as family
from studies.output import FORMATS, render, write

BASELINES = ("inner", "outer", "rowwise-dram")
THESIS_SPEEDUP = 9.4   # SMASH thesis abstract (arXiv 2105.14156): best kernel vs competing kernels
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "matrices"
REAL = ("karate", "west0067", "olm1000", "cryg2500", "zenios", "bcsstk13", "pushpull")


def points(matrix_dir: Path, min_scale: int, max_scale: int, edge_factor: int) -> list:
    """Workload parameter sets of the study: the real matrices found, then R-MAT scales."""
    out = []
    for name in REAL:
        p = matrix_dir / f"{name}.mtx"
        if p.is_file():
            out.append({"matrix": str(p)})
    for s in range(min_scale, max_scale + 1):
        out.append({"rmat": str(s), "edge_factor": str(edge_factor), "seed": "1"})
    return out


def run_study(arch: str, pts: list, log=None) -> list:
    """Every kernel on every point; records with ``speedup`` and ``energy_ratio`` vs the best baseline."""
    records = []
    for params in pts:
        t0 = time.perf_counter()
        recs = [family.evaluate(arch, dict(params, kernel=k), "des") for k in KERNELS]
        base = min((r for r in recs if r["kernel"] in BASELINES), key=lambda r: r["cycles"])
        for r in recs:
            r["baseline"] = base["kernel"]
            r["speedup"] = base["cycles"] / r["cycles"] if r["cycles"] else math.inf
            r["energy_ratio"] = r["energy_pj"] / base["energy_pj"] if base["energy_pj"] else math.nan
        records += recs
        if log:
            log(f"{recs[0]['matrix']}: {time.perf_counter() - t0:.1f} s")
    return records


COLUMNS = ["matrix", "kernel", "speedup", "cycles", "energy_ratio", "flops", "nnz_z", "dram_bytes",
           "dram_bw_utilization", "hash_probes", "hash_collisions", "atomics", "thread_occupancy",
           "work_imbalance", "rows_in_dram_table", "rows_fragmented"]


def summary(records: list) -> str:
    """Per matrix the best hashing kernel's speedup; their geometric mean against the thesis."""
    best = {}
    for r in records:
        if r["kernel"].startswith("smash") and r["speedup"] > best.get(r["matrix"], (0, ""))[0]:
            best[r["matrix"]] = (r["speedup"], r["kernel"])
    lines = [f"  {m:28s} best hashing kernel {k:9s} {s:6.2f}x over the best non-hashing kernel"
             for m, (s, k) in best.items()]
    if best:
        g = math.exp(sum(math.log(s) for s, _ in best.values()) / len(best))
        lines.append(f"geometric mean of the best hashing kernel: {g:.2f}x (SMASH thesis: {THESIS_SPEEDUP}x); "
                     "see docs/spgemm.md for why")
        cyc = {(r["matrix"], r["kernel"]): r["cycles"] for r in records}
        for b in BASELINES:
            ratios = [cyc[(m, b)] / cyc[(m, k)] for m, (_, k) in best.items()]
            gb = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            lines.append(f"  against {b:13s} alone: {gb:6.2f}x (geometric mean over the matrices)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.smash", description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="piuma")
    ap.add_argument("--matrices", type=Path, default=DEFAULT_DIR, help="folder of .mtx files")
    ap.add_argument("--min-scale", type=int, default=12)
    ap.add_argument("--max-scale", type=int, default=16)
    ap.add_argument("--edge-factor", type=int, default=16)
    ap.add_argument("--format", choices=FORMATS, default="table")
    ap.add_argument("--out", help="write the records to this file")
    ap.add_argument("--engine", choices=("analytical", "des"), default="des", help="ignored: the model is event-driven")
    ap.add_argument("--plot", help="ignored")
    ap.add_argument("--jobs", type=int, default=1, help="ignored: points run one after the other")
    args = ap.parse_args(argv)
    load_arch(args.arch)
    pts = points(args.matrices, args.min_scale, args.max_scale, args.edge_factor)
    records = run_study(args.arch, pts, log=lambda s: print(s, file=sys.stderr))
    if args.out:
        write(records, args.format, args.out)
    if args.format == "table":
        rows = [{c: r.get(c, "") for c in COLUMNS} for r in records]
        print(render(rows, "table"))
        print(summary(records))
    elif not args.out:
        print(render(records, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
