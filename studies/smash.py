"""SMASH study: each hashing SpGEMM kernel against each other kernel, one by one, on real matrices
and R-MAT graphs, on the PIUMA-like machine.

Every hashing kernel's record carries ``speedup_over``: ``{"inner": ..., "outer": ...,
"rowwise-dram": ..., "smash-v1": ...}``, the cycles of that kernel over this one's (smash-v1's own
entry is 1); the summary gives them per matrix and as geometric means over the matrices. Every
record also keeps ``speedup`` over ``baseline``, the fastest non-hashing kernel (``inner``,
``outer``, ``rowwise-dram``) of its matrix.
Each row carries the counts that explain it: flops, nnz(Z), DRAM bytes and bandwidth
utilization, hash probes and collisions, atomics, thread occupancy, and for the hashing kernels
how many rows fell back to a DRAM table or had their table fragmented over the scratchpads.

The SMASH thesis (Shivdikar 2021, arXiv 2105.14156) reports 9.4x for its best kernel against
competing kernels on PIUMA; ``docs/spgemm.md`` says where this model lands and why.

Usage::

    python -m studies.smash                     # real matrices + R-MAT scales 12..16, event loop
    python -m studies.smash --max-scale 13 --jobs 2 --plot smash.png
    python -m studies.smash --engine analytical # the closed-form lower bound, in seconds
    explore --study smash --engine des --format json

``explore --study smash`` forwards ``--arch``, ``--format``, ``--engine`` (explore's default:
analytical), ``--out``, ``--plot``, ``--jobs`` and ``--quiet``, and refuses every other sweep flag. A bad argument is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from arch.cliargs import int_arg
from arch.errors import AccelError
from arch.registry import load_arch
from sim.spgemm import HASHING, KERNELS
from studies.families import spgemm as family
from studies.cli import OneLineParser
from studies.output import FORMATS, render, write
from studies.pool import worker_pool

BASELINES = ("inner", "outer", "rowwise-dram")
#: What each hashing kernel is compared with, one by one (``speedup_over`` in its record).
COMPARED = BASELINES + ("smash-v1",)
THESIS_SPEEDUP = 9.4   # SMASH thesis abstract (arXiv 2105.14156), docs/sources.md#smash
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "matrices"
MIN_SCALE, MAX_SCALE, EDGE_FACTOR = 12, 16, 16   # issue: R-MAT at scales 12-16
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


def _evaluate(job):
    """One (arch, params, engine) point: the family's record (a process-pool task)."""
    arch, params, engine = job
    return family.evaluate(arch, params, engine)


def run_study(arch: str, pts: list, log=None, engine: str = "des", jobs: int = 1) -> list:
    """Every kernel on every point; records with ``speedup`` and ``energy_ratio`` vs the best baseline.

    Parameters
    ----------
    arch : str
        Preset name or spec path of a piuma machine.
    pts : list of dict
        Workload parameters of each matrix (see :func:`points`).
    log : callable, optional
        Receives one progress line per finished matrix.
    engine : str
        ``"des"`` (event loop) or ``"analytical"`` (closed-form lower bound).
    jobs : int
        Processes evaluating the (matrix, kernel) pairs; 1 runs them in this process. The
        pairs go out a matrix's kernels at a time, so each matrix's operands are read and
        expanded once.

    Returns
    -------
    list of dict
        One record per (point, kernel), points in order, kernels in :data:`KERNELS` order.
    """
    work = [(arch, dict(params, kernel=k), engine) for params in pts for k in KERNELS]
    t0 = time.perf_counter()
    pool = worker_pool(min(jobs, len(work))) if jobs > 1 and len(work) > 1 else None
    flat = []
    try:
        # a worker takes a matrix's kernels together: the operands and their expansion (most of
        # the time of a point) are prepared once per matrix, as in one process
        for rec in (pool.map(_evaluate, work, chunksize=len(KERNELS)) if pool else map(_evaluate, work)):
            flat.append(rec)
            if log and len(flat) % len(KERNELS) == 0:
                log(f"{rec['matrix']}: done at {time.perf_counter() - t0:.1f} s")
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    records = []
    for i in range(0, len(flat), len(KERNELS)):
        recs = flat[i:i + len(KERNELS)]
        base = min((r for r in recs if r["kernel"] in BASELINES), key=lambda r: r["cycles"])
        cycles = {r["kernel"]: r["cycles"] for r in recs}
        for r in recs:
            r["baseline"] = base["kernel"]
            r["speedup"] = _ratio(base["cycles"], r["cycles"])
            r["energy_ratio"] = r["energy_pj"] / base["energy_pj"] if base["energy_pj"] else math.nan
            if r["kernel"] in HASHING:
                r["speedup_over"] = {b: _ratio(cycles[b], r["cycles"]) for b in COMPARED if b in cycles}
        records += recs
    return records


def _ratio(base_cycles: int, cycles: int) -> float:
    """Speedup: cycles of the compared kernel over cycles of this one."""
    return base_cycles / cycles if cycles else math.inf


def _geomean(xs: list) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


def plot(records: list, path: str) -> None:
    """Write a PNG: each kernel's speedup over the best non-hashing kernel, and its DRAM bytes.

    Two panels of bars grouped by matrix (one bar per kernel, log scales): speedup (the
    thesis's 9.4x and parity drawn as lines) and DRAM bytes (MB).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    matrices = list(dict.fromkeys(r["matrix"] for r in records))
    kernels = [k for k in KERNELS if any(r["kernel"] == k for r in records)]
    by = {(r["matrix"], r["kernel"]): r for r in records}
    x = np.arange(len(matrices))
    width = 0.8 / max(len(kernels), 1)
    engine = records[0]["engine"] if records else ""
    fig, axes = plt.subplots(2, 1, figsize=(max(9.0, 1.1 * len(matrices) + 4), 7.5), sharex=True)
    for ax, key, scale, label in ((axes[0], "speedup", 1.0, "speedup over the best non-hashing kernel"),
                                  (axes[1], "dram_bytes", 1e-6, "DRAM MB")):
        for j, k in enumerate(kernels):
            vals = [by[(m, k)][key] * scale if (m, k) in by else np.nan for m in matrices]
            ax.bar(x + (j - (len(kernels) - 1) / 2) * width, vals, width, label=k,
                   hatch="//" if k in BASELINES else None, edgecolor="0.2", linewidth=0.4)
        ax.set_yscale("log")
        ax.set_ylabel(label)
    axes[0].axhline(1.0, color="k", lw=0.8)
    axes[0].axhline(THESIS_SPEEDUP, color="r", ls="--", lw=0.8, label=f"thesis {THESIS_SPEEDUP}x")
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    axes[0].set_title(f"SpGEMM kernels on the PIUMA-like machine ({engine} engine)", fontsize=10)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels(matrices, rotation=30, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


COLUMNS = ["matrix", "kernel", "speedup", "cycles", "energy_ratio", "flops", "nnz_z", "dram_bytes",
           "dram_bw_utilization", "hash_probes", "hash_collisions", "atomics", "thread_occupancy",
           "work_imbalance", "rows_in_dram_table", "rows_fragmented"]


def comparisons(records: list) -> dict:
    """Geometric means over the matrices of each hashing kernel's ``speedup_over`` each kernel.

    Returns ``{hashing kernel: {compared kernel: geometric mean}}``.
    """
    out = {}
    for k in HASHING:
        recs = [r for r in records if r["kernel"] == k and "speedup_over" in r]
        if recs:
            out[k] = {b: _geomean([r["speedup_over"][b] for r in recs]) for b in COMPARED
                      if all(b in r["speedup_over"] for r in recs)}
    return out


def summary(records: list) -> str:
    """Each hashing kernel over inner, outer, rowwise-dram and smash-v1, per matrix and as geometric means.

    The last line keeps the older single figure (the best hashing kernel over the best
    non-hashing kernel) for comparison with earlier runs.
    """
    head = f"  {'matrix':28s} {'kernel':9s}" + "".join(f" {'over ' + b:>17s}" for b in COMPARED)
    lines = ["speedup of each hashing kernel over each other kernel (cycles of that kernel / cycles of this one):",
             head]
    for r in records:
        if "speedup_over" in r:
            lines.append(f"  {r['matrix']:28s} {r['kernel']:9s}"
                         + "".join(f" {r['speedup_over'].get(b, math.nan):16.2f}x" for b in COMPARED))
    for k, means in comparisons(records).items():
        lines.append(f"  {'geometric mean':28s} {k:9s}" + "".join(f" {means.get(b, math.nan):16.2f}x" for b in COMPARED))
    best = {}
    for r in records:
        if r["kernel"] in HASHING and r["speedup"] > best.get(r["matrix"], 0.0):
            best[r["matrix"]] = r["speedup"]
    if best:
        lines.append(f"best hashing kernel over the best non-hashing kernel, geometric mean: "
                     f"{_geomean(list(best.values())):.2f}x (SMASH thesis: {THESIS_SPEEDUP}x); "
                     "docs/spgemm.md says which comparison the thesis's figure most plausibly is")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = OneLineParser(prog="python -m studies.smash", description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="piuma", help="piuma preset name or spec .yaml (default: piuma)")
    ap.add_argument("--matrices", type=Path, default=DEFAULT_DIR, help="folder of .mtx files")
    ap.add_argument("--min-scale", type=int_arg(1, 26), default=MIN_SCALE, help=f"smallest R-MAT scale (default: {MIN_SCALE})")
    ap.add_argument("--max-scale", type=int_arg(1, 26), default=MAX_SCALE, help=f"largest R-MAT scale (default: {MAX_SCALE})")
    ap.add_argument("--edge-factor", type=int_arg(1, 1024), default=EDGE_FACTOR, help=f"R-MAT edge factor (default: {EDGE_FACTOR})")
    ap.add_argument("--format", choices=FORMATS, default="table")
    ap.add_argument("--out", help="write the records to this file")
    ap.add_argument("--engine", choices=("analytical", "des"), default="des",
                    help="des: event loop (default); analytical: closed-form lower bound")
    ap.add_argument("--plot", metavar="PATH", help="write a PNG: speedups and DRAM bytes per kernel and matrix")
    ap.add_argument("--jobs", type=int_arg(1, 1024), default=1, metavar="N", help="evaluate (matrix, kernel) pairs on N processes")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return ap


def _folder_of(path: str) -> Path:
    return Path(path).resolve().parent


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if not args.matrices.is_dir():
        ap.error(f"--matrices must be a folder, not {str(args.matrices)!r}")
    if args.format == "parquet" and not args.out:
        ap.error("--format parquet needs --out")
    for flag, path in (("--out", args.out), ("--plot", args.plot)):
        if path and not _folder_of(path).is_dir():
            ap.error(f"{flag}: folder {str(_folder_of(path))!r} does not exist")
    pts = points(args.matrices, args.min_scale, args.max_scale, args.edge_factor)
    if not pts:
        ap.error(f"no points: no study matrix in {str(args.matrices)!r} and --min-scale {args.min_scale} "
                 f"above --max-scale {args.max_scale}")
    try:
        load_arch(args.arch)
        log = None if args.quiet else (lambda s: print(s, file=sys.stderr))
        records = run_study(args.arch, pts, log=log, engine=args.engine, jobs=args.jobs)
    except AccelError as exc:
        ap.error(str(exc))
    if args.out:
        write(records, args.format, args.out)
    if args.format == "table":
        rows = [{c: r.get(c, "") for c in COLUMNS} for r in records]
        print(render(rows, "table"))
        print(f"engine: {args.engine}")
        print(summary(records))
    elif not args.out:
        print(render(records, args.format))
    if args.plot:
        plot(records, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
