"""Speed of the SpGEMM simulator: wall-clock seconds to simulate each kernel.

Targets (issue: PIUMA-like machine and SpGEMM): pushpull.mtx A*A (18.3 M flops) under 30 s and
R-MAT scale 16, edge factor 16 under 2 minutes, each kernel. The time of a kernel counts loading
the operands, the row-wise hash expansion (computing the product and the hash probes) and the
discrete-event run, as one ``explore`` point would spend it; the expansion is shared by the six
kernels of one matrix in a study, so the table also shows it separately. The analytical bound
(``--engine analytical``) of the same tasks is timed beside the event loop.

Usage::

    python -m studies.bench_spgemm                 # both targets
    python -m studies.bench_spgemm --scale 14      # a smaller R-MAT
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from arch.registry import load_arch
from sim.spgemm import KERNELS, expand, load_mtx, rmat, simulate

MATRIX = Path(__file__).resolve().parents[1] / "tests" / "data" / "matrices" / "pushpull.mtx"


def bench(name: str, load, spec, limit_s: float) -> list:
    t0 = time.perf_counter()
    A = load()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    e = expand(A, A, keep_product=True)
    t_expand = time.perf_counter() - t0
    rows = []
    for k in KERNELS:
        t0 = time.perf_counter()
        res = simulate(A, A, k, spec, expansion=e, keep_product=False)
        t_des = time.perf_counter() - t0
        t0 = time.perf_counter()
        low = simulate(A, A, k, spec, expansion=e, keep_product=False, engine="analytical")
        t_bound = time.perf_counter() - t0
        total = t_load + t_expand + t_des
        rows.append((name, k, e.total_flops, res.report.cycles, low.report.cycles, t_load, t_expand, t_des,
                     t_bound, total, total < limit_s))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.bench_spgemm")
    ap.add_argument("--scale", type=int, default=16)
    ap.add_argument("--edge-factor", type=int, default=16)
    args = ap.parse_args(argv)
    spec = load_arch("piuma")
    rows = bench("pushpull.mtx", lambda: load_mtx(MATRIX), spec, 30.0)
    rows += bench(f"rmat{args.scale}-ef{args.edge_factor}", lambda: rmat(args.scale, args.edge_factor, 1), spec, 120.0)
    print(f"{'matrix':16s} {'kernel':13s} {'flops':>12s} {'DES cycles':>13s} {'bound cycles':>13s} {'load s':>7s} "
          f"{'expand s':>8s} {'DES s':>6s} {'bound s':>7s} {'total s':>7s} within limit")
    for r in rows:
        print(f"{r[0]:16s} {r[1]:13s} {r[2]:12,d} {r[3]:13,d} {r[4]:13,d} {r[5]:7.2f} {r[6]:8.2f} {r[7]:6.2f} "
              f"{r[8]:7.3f} {r[9]:7.2f} {r[10]}")
    return 0 if all(r[10] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
