"""Speed of the whole FuseMax reproduction on this machine.

Times :mod:`studies.fusemax` over its full grid (5 configurations x 4 models x 6 sequence
lengths x 2 scopes = 240 design points), once with the analytical engine and once with the
discrete-event engine (which fast-forwards the periodic phases: a 1M-token layer is ~10^9
loop iterations), and prints for each engine the wall time, the points per second, the
slowest point, and the steps the DES simulated and extrapolated. The published artifact
regenerates its figures in about 9 hours (docs/sources.md#fusemax-artifact-runtime). Targets here: under 60 s
analytical, under 5 minutes DES.

Run: ``python -m studies.bench_fusemax [--engine analytical|des|both] [--jobs N]``.
"""

from __future__ import annotations

import argparse
import sys
import time

from studies.fusemax import evaluate_point, points


def bench(engine: str, pts) -> dict:
    t0 = time.perf_counter()
    slowest, sim, ext = (0.0, None), 0, 0
    for p in pts:
        t = time.perf_counter()
        rec = evaluate_point(p, engine)
        dt = time.perf_counter() - t
        if dt > slowest[0]:
            slowest = (dt, p)
        sim += rec.get("simulated_steps", 0)
        ext += rec.get("extrapolated_steps", 0)
    wall = time.perf_counter() - t0
    return {"engine": engine, "points": len(pts), "wall_s": wall, "points_per_s": len(pts) / wall,
            "slowest_s": slowest[0], "slowest": slowest[1], "simulated_steps": sim, "extrapolated_steps": ext}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.bench_fusemax", description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("analytical", "des", "both"), default="both")
    args = ap.parse_args(argv)
    pts = points()
    engines = ("analytical", "des") if args.engine == "both" else (args.engine,)
    for e in engines:
        r = bench(e, pts)
        c, m, L, s, _ = r["slowest"]
        print(f"{e:<10} {r['points']} points in {r['wall_s']:.1f} s ({r['points_per_s']:.1f} points/s); "
              f"slowest {r['slowest_s']:.2f} s ({c} {m} {L} {s}); "
              f"DES steps simulated {r['simulated_steps']:.3g}, extrapolated {r['extrapolated_steps']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
