"""Timeloop's own mapper example, searched by the hierarchy mapper, timed, and set beside
Timeloop's reference output.

The case is exercise 06-mapper-convlayer-eyeriss of the Timeloop tutorial (an Eyeriss-like
machine: DRAM, a 128 KB global buffer keeping inputs and outputs, 14 x 12 PEs each with an
input, a weight and a partial-sum scratchpad; VGG02 layer 5; the row-stationary constraints
written under the architecture's nodes), pinned under ``tests/data/timeloop/06-eyeriss-vgg02-layer5/``
(the mapper's options under ``06-eyeriss-mapper/``) with their provenance in ``SOURCES.md``
there. Timeloop's figures are read from the pinned ``timeloop-mapper.stats.txt`` (its
``Summary Stats``), the mapping its mapper found from the pinned ``timeloop-mapper.map.yaml``.

Run on one core::

    python -m studies.bench_nest_mapper [--objective edp] [--time-limit 60] [--write-mapping F.map.yaml]

It prints the search's wall and CPU seconds, whether it covered the whole space, the best
mapping's cycles, energy and EDP, the same figures for the mapping Timeloop's mapper reported
(counted by our model), and Timeloop's own.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from arch.timeloop import load_timeloop_arch
from mappings.mapper import OBJECTIVES
from mappings.nest_mapper import search
from mappings.timeloop import read_mapping, read_problem
from mappings.timeloop_constraints import read_constraints
from mappings.timeloop_write import timeloop_mapping_text
from sim.nest import evaluate
from sim.nest_bounds import NestCost

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "timeloop"
CASE = DATA / "06-eyeriss-vgg02-layer5"
OPTIONS = DATA / "06-eyeriss-mapper" / "mapper.yaml"


def timeloop_summary(stats_path) -> dict:
    """``Cycles``, ``Energy`` (uJ) and ``EDP(J*cycle)`` from a Timeloop ``stats.txt`` summary."""
    text = Path(stats_path).read_text()
    summary = text[text.index("Summary Stats"):]
    pick = {"cycles": r"Cycles: (\d+)", "energy_uj": r"Energy: ([\d.]+) uJ", "edp": r"EDP\(J\*cycle\): ([\d.e+]+)"}
    return {k: float(re.search(p, summary).group(1)) for k, p in pick.items()}


def _line(name, cycles, energy_uj, edp):
    return f"{name:<34} {cycles:>12,.0f} cycles  {energy_uj:>10.2f} uJ  EDP {edp:.4g} J*cycle"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.bench_nest_mapper", description=__doc__.splitlines()[0])
    ap.add_argument("--objective", choices=OBJECTIVES, default="edp")
    ap.add_argument("--time-limit", type=float, default=60.0, help="CPU seconds (0: none)")
    ap.add_argument("--write-mapping", metavar="PATH", help="write the mapping found as a Timeloop mapping file")
    args = ap.parse_args(argv)
    h = load_timeloop_arch(CASE / "eyeriss_like.arch.yaml", CASE / "timeloop-mapper.ERT.yaml")
    shape = read_problem(CASE / "VGG02_layer5.prob.yaml")
    rules, _ = read_constraints(OPTIONS, h, shape, arch_path=CASE / "eyeriss_like.arch.yaml")
    wall, cpu = time.perf_counter(), time.process_time()
    found = search(h, shape, NestCost(h, shape), args.objective, rules, time_limit_s=args.time_limit or None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"search ({args.objective}): {wall:.1f} s wall, {cpu:.1f} s CPU; whole space: {found.complete}; "
          f"{found.evaluated} mappings costed, {found.bounded} floors, {found.pruned} subtrees pruned")
    print(_line("ours, best found", found.cycles, found.energy_pj * 1e-6, found.edp * 1e-12))
    theirs = evaluate(h, shape, read_mapping(CASE / "timeloop-mapper.map.yaml", shape, h))
    print(_line("Timeloop's best, our counts", theirs.cycles, theirs.energy_pj * 1e-6,
                theirs.cycles * theirs.energy_pj * 1e-12))
    ref = timeloop_summary(CASE / "timeloop-mapper.stats.txt")
    print(_line("Timeloop's best, its stats.txt", ref["cycles"], ref["energy_uj"], ref["edp"]))
    for lm in found.best.levels:
        loops = " ".join(f"{r}{f}" for r, f in lm.temporal) or "-"
        sx = " ".join(f"{r}{f}" for r, f in lm.spatial_x)
        sy = " ".join(f"{r}{f}" for r, f in lm.spatial_y)
        keep = ",".join(sorted(lm.keep)) if lm.keep is not None else "all"
        print(f"  {lm.level:<13} keep {keep:<24} temporal {loops:<20} X {sx or '-':<8} Y {sy or '-'}")
    if args.write_mapping:
        Path(args.write_mapping).write_text(timeloop_mapping_text(found.best, shape))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
