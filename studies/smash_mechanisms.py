"""Each SMASH mechanism switched on and off, one at a time, on a few matrices.

A mechanism is a spec key (short name on the command line) or the step from one kernel to the
next; everything else stays at the preset's values:

==============  ==========================================  =====================================
mechanism       on                                          off
==============  ==========================================  =====================================
windows         smash-v1, ``windows=1``                     smash-v1, ``windows=0`` (row blocks)
tokens          smash-v2 (rows handed out as tokens)        smash-v1 with ``windows=0``
fragmentation   smash-v3 (large tables over every core)     smash-v2
dma in flight   smash-v3, preset ``dma_in_flight``          smash-v3, ``dma_in_flight=1``
cache gathers   smash-v3, ``cache_gathers=1``               smash-v3, ``cache_gathers=0`` (DMA)
==============  ==========================================  =====================================

Usage::

    python -m studies.smash_mechanisms                          # bcsstk13 and R-MAT 14
    python -m studies.smash_mechanisms --workload matrix=tests/data/matrices/pushpull.mtx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arch.errors import AccelError
from studies.families import spgemm as family

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "matrices"

#: mechanism -> (parameters with it on, parameters with it off)
MECHANISMS = {
    "windows": ({"kernel": "smash-v1", "windows": "1"}, {"kernel": "smash-v1", "windows": "0"}),
    "tokens": ({"kernel": "smash-v2"}, {"kernel": "smash-v1", "windows": "0"}),
    "fragmentation": ({"kernel": "smash-v3"}, {"kernel": "smash-v2"}),
    "dma in flight": ({"kernel": "smash-v3"}, {"kernel": "smash-v3", "dma_in_flight": "1"}),
    "cache gathers": ({"kernel": "smash-v3", "cache_gathers": "1"}, {"kernel": "smash-v3", "cache_gathers": "0"}),
}


def effects(arch: str, workloads: list, engine: str = "des") -> list:
    """One record per (workload, mechanism): cycles on and off, and off / on (the mechanism's speedup)."""
    out = []
    for wl in workloads:
        for name, (on, off) in MECHANISMS.items():
            r_on = family.evaluate(arch, dict(wl, **on), engine)
            r_off = family.evaluate(arch, dict(wl, **off), engine)
            out.append({"matrix": r_on["matrix"], "mechanism": name, "on": on["kernel"], "off": off["kernel"],
                        "cycles_on": r_on["cycles"], "cycles_off": r_off["cycles"],
                        "speedup": r_off["cycles"] / r_on["cycles"] if r_on["cycles"] else float("inf"),
                        "dram_bytes_on": r_on["dram_bytes"], "dram_bytes_off": r_off["dram_bytes"],
                        "cache_hit_rate": r_on.get("cache_hit_rate", "")})
    return out


def _workload(text: str) -> dict:
    """``key=value,key=value`` -> dict (the spgemm family's workload keys)."""
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.smash_mechanisms", description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="piuma")
    ap.add_argument("--engine", choices=("analytical", "des"), default="des")
    ap.add_argument("--workload", action="append", metavar="KEY=VALUE,...",
                    help="spgemm workload keys (default: bcsstk13 and rmat=14,edge_factor=16,seed=1)")
    args = ap.parse_args(argv)
    workloads = [_workload(w) for w in args.workload] if args.workload else [
        {"matrix": str(DATA / "bcsstk13.mtx")}, {"rmat": "14", "edge_factor": "16", "seed": "1"}]
    try:
        rows = effects(args.arch, workloads, args.engine)
    except AccelError as exc:
        ap.error(str(exc))
    print("| matrix | mechanism | on | off | cycles on | cycles off | off / on | DRAM MB on | DRAM MB off | cache hit rate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['matrix']} | {r['mechanism']} | {r['on']} | {r['off']} | {r['cycles_on']:,} | {r['cycles_off']:,} "
              f"| {r['speedup']:.2f}x | {r['dram_bytes_on'] / 1e6:.1f} | {r['dram_bytes_off'] / 1e6:.1f} "
              f"| {r['cache_hit_rate'] if r['cache_hit_rate'] == '' else format(r['cache_hit_rate'], '.3f')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
