"""FuseMax reproduced: the ablation ladder over the paper's 24 workload points, against its means.

Runs every configuration of FuseMax's ablation ladder (Unfused, FLAT, +Cascade, +Architecture,
FuseMax: their shipped mapping files, :mod:`studies.families.attention`), each on its own
paper hardware, for BERT-Base, TrXL, T5-small and XLM at 1K..1M
tokens (batch 64), attention alone and end to end (one encoder layer), and prints the per-point
figures followed by the means the paper reports (FuseMax, Nayak et al., MICRO 2024,
arXiv 2406.10491; docs/sources.md#fusemax-results) next to ours. docs/fusemax.md explains every gap.

Usage::

    python -m studies.fusemax                       # the table (analytical engine)
    python -m studies.fusemax --engine des --format json
    explore --study fusemax --format csv --out fusemax.csv
    explore --study fusemax --set dram_staging=yes     # every DRAM byte also through the buffer

``explore --study fusemax`` forwards ``--format``, ``--engine``, ``--out``, ``--plot`` and
``--jobs``, and ``--set dram_staging=V`` / ``--set batch=N`` to ``--dram-staging`` / ``--batch``;
it refuses ``--arch`` (each configuration runs on its own paper hardware) and every other sweep
flag.
"""

from __future__ import annotations

import sys

from arch.cliargs import int_arg
from arch.errors import WorkloadError
from mappings.workloads import MODELS, SEQ_LENS
from studies.cli import OneLineParser
from studies.output import FORMATS, render, write
from studies.pool import worker_pool

CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")
SCOPES = ("attention", "end2end")
RECORD_KEYS = ("config", "model", "seq_len", "scope", "seconds", "cycles", "energy_pj",
               "dram_bytes", "utilization", "engine", "arch", "simulated_steps",
               "extrapolated_steps", "energy_breakdown", "hardware", "area_mm2")

# Published means over the 24 model x length points (FuseMax, MICRO 2024;
# docs/sources.md#fusemax-results). Speedups are mean(baseline seconds / FuseMax seconds); energies are
# mean(FuseMax energy / baseline energy).
PUBLISHED = {
    ("attention", "flat", "speedup"): 6.7,
    ("attention", "flat", "energy"): 0.79,
    ("attention", "unfused", "speedup"): 10.0,
    ("attention", "unfused", "energy"): 0.77,
    ("end2end", "flat", "speedup"): 5.3,
    ("end2end", "flat", "energy"): 0.83,
    ("end2end", "unfused", "speedup"): 7.6,
    ("end2end", "unfused", "energy"): 0.82,
}
# FuseMax 2D utilization ~0.89 at 1K rising to ~0.99 at 1M; FLAT 0.125 (0.25 for XLM).
PUBLISHED_UTIL = {("fusemax", "1K"): 0.89, ("fusemax", "1M"): 0.99,
                  ("flat", "non-xlm"): 0.125, ("flat", "xlm"): 0.25}
# Per-model attention speedup over FLAT: BERT/TrXL/T5 ~7.6x, XLM ~4.0x.
PUBLISHED_PER_MODEL = {"bert": 7.6, "trxl": 7.6, "t5": 7.6, "xlm": 4.0}
SPEEDUP_TOLERANCE = 0.10     # relative
ENERGY_TOLERANCE = 0.05      # absolute, on the ratio


def points(models=tuple(MODELS), seq_lens=SEQ_LENS, configs=CONFIGS, scopes=SCOPES, batch=64) -> list:
    """The design points of the study as (config, model, seq_len, scope, batch)."""
    return [(c, m, L, s, batch) for s in scopes for m in models for L in seq_lens for c in configs]


def evaluate_point(point, engine: str = "analytical", dram_staging: str = "no") -> dict:
    """One record of the study (each configuration on its own paper hardware)."""
    from studies.families.attention import evaluate_scope

    config, model, seq_len, scope, batch = point
    params = {"config": config, "model": model, "seq_len": seq_len, "batch": str(batch),
              "dram_staging": dram_staging}
    rec = evaluate_scope("fusemax", params, engine, None, scope)
    return {k: rec[k] for k in RECORD_KEYS if k in rec}


def run(pts, engine: str = "analytical", jobs: int = 1, dram_staging: str = "no") -> list:
    """Records of ``pts`` in order, on ``jobs`` processes."""
    if jobs > 1:
        with worker_pool(min(jobs, len(pts))) as pool:
            return list(pool.map(evaluate_point, pts, [engine] * len(pts), [dram_staging] * len(pts)))
    return [evaluate_point(p, engine, dram_staging) for p in pts]


def _index(records):
    return {(r["config"], r["model"], r["seq_len"], r["scope"]): r for r in records}


def _mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def summary(records) -> list:
    """Our means next to the published ones: rows of (metric, ours, published, within)."""
    idx = _index(records)
    keys = sorted({(m, L) for (_, m, L, _) in idx})
    rows = []
    for scope in SCOPES:
        for base in ("flat", "unfused"):
            pairs = [(idx.get((base, m, L, scope)), idx.get(("fusemax", m, L, scope))) for m, L in keys]
            pairs = [(b, f) for b, f in pairs if b and f]
            if not pairs:
                continue
            sp = _mean(b["seconds"] / f["seconds"] for b, f in pairs)
            en = _mean(f["energy_pj"] / b["energy_pj"] for b, f in pairs)
            pub_s, pub_e = PUBLISHED[(scope, base, "speedup")], PUBLISHED[(scope, base, "energy")]
            rows.append((f"{scope} speedup vs {base} (mean of {len(pairs)})", sp, pub_s,
                         abs(sp / pub_s - 1) <= SPEEDUP_TOLERANCE))
            rows.append((f"{scope} energy FuseMax/{base} (mean of {len(pairs)})", en, pub_e,
                         abs(en - pub_e) <= ENERGY_TOLERANCE))
    for m, pub in PUBLISHED_PER_MODEL.items():
        pairs = [(idx.get(("flat", m, L, "attention")), idx.get(("fusemax", m, L, "attention")))
                 for mm, L in keys if mm == m]
        pairs = [(b, f) for b, f in pairs if b and f]
        if pairs:
            sp = _mean(b["seconds"] / f["seconds"] for b, f in pairs)
            rows.append((f"attention speedup vs flat, {m}", sp, pub, abs(sp / pub - 1) <= SPEEDUP_TOLERANCE))
    for (cfg, which), pub in PUBLISHED_UTIL.items():
        if cfg == "fusemax":
            sel = [r for (c, m, L, s), r in idx.items() if c == cfg and L == which and s == "attention"]
        else:
            want_xlm = which == "xlm"
            sel = [r for (c, m, L, s), r in idx.items()
                   if c == cfg and s == "attention" and (m == "xlm") == want_xlm and L in ("1K", "4K", "16K")]
        if sel:
            u = _mean(r["utilization"]["2d"] for r in sel)
            rows.append((f"{cfg} 2D utilization ({which})", u, pub, abs(u / pub - 1) <= SPEEDUP_TOLERANCE))
    return rows


def summary_text(records) -> str:
    lines = [f"{'metric':<46} {'ours':>8} {'paper':>8}  within"]
    for name, ours, pub, ok in summary(records):
        lines.append(f"{name:<46} {ours:8.3f} {pub:8.3f}  {'yes' if ok else 'NO'}")
    lines.append("tolerance: speedups and utilizations within 10%, energy ratios within 0.05; "
                 "docs/fusemax.md explains the differences")
    return "\n".join(lines)


def _table_rows(records):
    out = []
    for r in records:
        out.append({"config": r["config"], "model": r["model"], "seq_len": r["seq_len"],
                    "scope": r["scope"], "seconds": r["seconds"], "energy_mj": r["energy_pj"] / 1e9,
                    "dram_gb": r["dram_bytes"] / 2 ** 30, "util_2d": r["utilization"]["2d"],
                    "util_1d": r["utilization"]["1d"]})
    return out


def _csv_list(text, allowed, what):
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise WorkloadError(f"'{what}' must be a comma list of {', '.join(allowed)}, not {text!r}")
    return items


def main(argv=None) -> int:
    ap = OneLineParser(prog="python -m studies.fusemax", description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("analytical", "des"), default="analytical")
    ap.add_argument("--format", choices=FORMATS, default="table")
    ap.add_argument("--out", help="write the records to this file")
    ap.add_argument("--plot", help="write a PNG of the ablation ladder (speedup, 2D utilization, energy against FLAT)")
    ap.add_argument("--jobs", type=int_arg(1, 1024), default=1, help="evaluate points on N processes")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seq-lens", default=",".join(SEQ_LENS))
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--scopes", default=",".join(SCOPES))
    ap.add_argument("--batch", type=int_arg(1, 1 << 16), default=64)
    ap.add_argument("--dram-staging", choices=("yes", "no"), default="no",
                    help="every byte moved to/from DRAM also passes the global buffer on top of "
                         "what the mapping files keep (yes; no: the files' keep/bypass alone, the "
                         "published artifact's accounting; energy only; docs/fusemax.md)")
    args = ap.parse_args(argv)
    try:
        models = _csv_list(args.models, tuple(MODELS), "models")
        lens = _csv_list(args.seq_lens, SEQ_LENS, "seq-lens")
        configs = _csv_list(args.configs, CONFIGS, "configs")
        scopes = _csv_list(args.scopes, SCOPES, "scopes")
    except WorkloadError as exc:
        ap.error(str(exc))
    if args.format == "parquet" and not args.out:
        ap.error("--format parquet needs --out")
    records = run(points(models, lens, configs, scopes, args.batch), args.engine, args.jobs, args.dram_staging)
    if args.out:
        write(records, args.format, args.out)
    if args.format == "table":
        print(render(_table_rows(records), "table"))
        print()
        print(summary_text(records))
    elif not args.out:
        print(render(records, args.format))
    if args.plot:
        from studies.plots import plot_ladder
        plot_ladder(records, args.plot, scope=scopes[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
