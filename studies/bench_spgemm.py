"""Speed of the SpGEMM simulator: seconds to simulate each kernel, and R-MAT scale 18 with smash-v3.

Targets (issues: PIUMA-like machine and SpGEMM; SpGEMM as a cascade, item 5):

- pushpull.mtx A*A (18.3 M flops), every kernel, under 30 s each;
- R-MAT scale 16, edge factor 16, every kernel, under 2 minutes each;
- R-MAT scale 18, edge factor 16 (about 2.9e9 flops) squared with smash-v3 on the event loop,
  under 2 minutes on one core.

The time of a kernel counts generating or loading the operands, the row-wise hash expansion
(the per-row counts; for the first two rows the product itself too, which the scale-18 row
cannot hold in memory) and the event loop, as one ``explore`` point would spend it. Seconds are
CPU seconds of this process (one core; wall-clock seconds depend on what else runs) and are
printed with the wall-clock ones. The expansion is shared by the kernels of one matrix. Each
row's flops are checked against their closed form, sum over stored a_ik of nnz(B_k).

Usage::

    python -m studies.bench_spgemm                     # the three targets
    python -m studies.bench_spgemm --scale 14 --big-scale 16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from arch.registry import load_arch
from sim.spgemm import KERNELS, expand, load_mtx, rmat, simulate

MATRIX = Path(__file__).resolve().parents[1] / "tests" / "data" / "matrices" / "pushpull.mtx"


class _Clock:
    """CPU and wall-clock seconds since the last :meth:`lap`."""

    def __init__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def lap(self) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        out = (cpu - self.cpu, wall - self.wall)
        self.cpu, self.wall = cpu, wall
        return out


def bench(name: str, load, spec, limit_s: float, kernels=KERNELS, keep_product: bool = True) -> list:
    """One row per kernel: counts, cycles and CPU/wall seconds of load, expansion and event loop."""
    clock = _Clock()
    A = load()
    t_load = clock.lap()
    e = expand(A, A, keep_product=keep_product)
    t_expand = clock.lap()
    exact = e.total_flops == int(np.diff(A.indptr)[A.indices].sum())
    rows = []
    for k in kernels:
        clock.lap()
        res = simulate(A, A, k, spec, expansion=e, keep_product=False)
        t_des = clock.lap()
        low = simulate(A, A, k, spec, expansion=e, keep_product=False, engine="analytical")
        t_bound = clock.lap()
        cpu = t_load[0] + t_expand[0] + t_des[0]
        wall = t_load[1] + t_expand[1] + t_des[1]
        rows.append(dict(matrix=name, kernel=k, nnz_a=A.nnz, flops=e.total_flops, flops_exact=exact,
                         nnz_z=e.total_nnz, des_cycles=res.report.cycles, bound_cycles=low.report.cycles,
                         load_s=t_load[0], expand_s=t_expand[0], des_s=t_des[0], bound_s=t_bound[0],
                         cpu_s=cpu, wall_s=wall, within=cpu < limit_s, limit_s=limit_s))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.bench_spgemm")
    ap.add_argument("--scale", type=int, default=16, help="R-MAT scale run with every kernel (default 16)")
    ap.add_argument("--big-scale", type=int, default=18, help="R-MAT scale run with smash-v3 only (default 18)")
    ap.add_argument("--edge-factor", type=int, default=16)
    args = ap.parse_args(argv)
    spec = load_arch("piuma")
    ef = args.edge_factor
    rows = bench("pushpull.mtx", lambda: load_mtx(MATRIX), spec, 30.0)
    rows += bench(f"rmat{args.scale}-ef{ef}", lambda: rmat(args.scale, ef, 1), spec, 120.0)
    rows += bench(f"rmat{args.big_scale}-ef{ef}", lambda: rmat(args.big_scale, ef, 1), spec, 120.0,
                  kernels=("smash-v3",), keep_product=False)
    print(f"{'matrix':14s} {'kernel':13s} {'nnz(A)':>10s} {'flops':>14s} {'nnz(Z)':>13s} {'DES cycles':>13s} "
          f"{'bound cycles':>13s} {'load s':>7s} {'expand s':>8s} {'DES s':>6s} {'bound s':>7s} {'CPU s':>7s} "
          f"{'wall s':>7s} flops exact, within limit")
    for r in rows:
        print(f"{r['matrix']:14s} {r['kernel']:13s} {r['nnz_a']:10,d} {r['flops']:14,d} {r['nnz_z']:13,d} "
              f"{r['des_cycles']:13,d} {r['bound_cycles']:13,d} {r['load_s']:7.2f} {r['expand_s']:8.2f} "
              f"{r['des_s']:6.2f} {r['bound_s']:7.3f} {r['cpu_s']:7.2f} {r['wall_s']:7.2f} "
              f"{r['flops_exact']}, {r['within']} (< {r['limit_s']:.0f} s)")
    return 0 if all(r["within"] and r["flops_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
