"""FuseMax's ablation ladder point by point against the published artifact's results.

For every rung of the ladder (Unfused, FLAT, +Cascade, +Architecture, FuseMax) and every one of
the 24 model x length points (attention alone, batch 64), runs the rung's shipped mapping files
through the attention family (:func:`studies.families.attention.evaluate`, ``dram_staging=no``:
the artifact's accounting of DRAM traffic) on each engine, and compares its seconds and pJ with
the results the artifact ships (pinned, with their provenance, in
``tests/data/fusemax_artifact/``: ``latency`` in seconds at 940 MHz, ``energy`` in pJ). Prints
per rung and engine the least and greatest ratio (ours / artifact) of latency and of energy
over the points, and the point furthest from 1 for each.

Run: ``python -m studies.fusemax_artifact [--configs flat,fusemax] [--engines analytical,des]
[--models bert,xlm] [--seq-lens 1K,1M]``.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from mappings.workloads import MODELS, SEQ_LENS
from studies.families.attention import evaluate

CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")
ENGINES = ("analytical", "des")
#: The artifact's result file of each rung (tests/data/fusemax_artifact/SOURCES.md).
FILES = {"unfused": "attn-unfused.csv", "flat": "attn-flat.csv", "cascade": "attn-cascade.csv",
         "architecture": "attn-arch.csv", "fusemax": "attn-binding.csv"}
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "fusemax_artifact"


def artifact(config: str, data: Path = DATA) -> dict:
    """The artifact's results of rung ``config``: (model key, seq_len) -> (seconds, pJ)."""
    names = {m.name.lower(): key for key, m in MODELS.items()}
    names.update({key: key for key in MODELS})
    out = {}
    with open(data / FILES[config], newline="") as f:
        for row in csv.DictReader(f):
            out[(names[row["model"].lower()], row["seq_len"])] = (float(row["latency"]), float(row["energy"]))
    return out


def ratios(config: str, engine: str, models=tuple(MODELS), seq_lens=SEQ_LENS) -> list:
    """``(model, seq_len, latency ratio, energy ratio)`` (ours / artifact) of every point."""
    ref = artifact(config)
    out = []
    for model in models:
        for L in seq_lens:
            rec = evaluate("fusemax", {"model": model, "seq_len": L, "config": config, "dram_staging": "no"}, engine)
            seconds, pj = ref[(model, L)]
            out.append((model, L, rec["seconds"] / seconds, rec["energy_pj"] / pj))
    return out


def summary(rows: list) -> dict:
    """Least and greatest latency and energy ratios of ``rows`` (:func:`ratios`), and the
    point furthest from 1 (by ``|log ratio|``) for each quantity."""
    out = {}
    for k, name in ((2, "latency"), (3, "energy")):
        vals = [r[k] for r in rows]
        worst = max(rows, key=lambda r: abs(math.log(r[k])))
        out[name] = (min(vals), max(vals), f"{worst[0]}:{worst[1]}", worst[k])
    return out


def _csv_list(text: str, allowed, flag: str, ap) -> list:
    items = [x for x in text.split(",") if x]
    for x in items:
        if x not in allowed:
            ap.error(f"{flag}: {x!r} is not one of {', '.join(allowed)}")
    return items


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.fusemax_artifact", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--engines", default="analytical")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seq-lens", default=",".join(SEQ_LENS))
    args = ap.parse_args(argv)
    configs = _csv_list(args.configs, CONFIGS, "--configs", ap)
    engines = _csv_list(args.engines, ENGINES, "--engines", ap)
    models = _csv_list(args.models, tuple(MODELS), "--models", ap)
    seq_lens = _csv_list(args.seq_lens, SEQ_LENS, "--seq-lens", ap)
    print(f"{'config':<13}{'engine':<11}{'latency min':>12}{'max':>8}  {'worst':<10}"
          f"{'energy min':>11}{'max':>8}  {'worst':<10}")
    for config in configs:
        for engine in engines:
            s = summary(ratios(config, engine, models, seq_lens))
            lat, en = s["latency"], s["energy"]
            print(f"{config:<13}{engine:<11}{lat[0]:>12.3f}{lat[1]:>8.3f}  {lat[2]:<10}"
                  f"{en[0]:>11.3f}{en[1]:>8.3f}  {en[2]:<10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
