"""The FuseMax ladder as mapping files against its hand-written lowerings, side by side.

For every rung of the ablation ladder (its shipped mapping files,
:data:`studies.families.attention.LADDER_FILES`: FLAT's two, on-chip and spilled, the faster
per point), runs each of the 24 model x length points twice on the rung's own paper hardware
(with ``--pe-dims``, on that hardware at each array size): once through the hand-written
lowering (:func:`sim.attention.lower`, the artifact's conventions: ``dram_staging=no``) and
once through the generic lowering of the mapping (:func:`sim.cascade.lower`), on both engines;
prints per rung the min/max ratio (mapping / hand-written) of cycles and energy per engine, the
mean CPU time each path takes to lower one point (the least of three lowerings of each point;
the mapping path includes FLAT's choice between its files) and the points no file can run.

Run: ``python -m studies.ladder_mappings [--configs fusemax,architecture] [--models bert]
[--seq-lens 1K,1M] [--engines analytical,des] [--pe-dims 64,128,256,512]``.
"""

from __future__ import annotations

import argparse
import sys
import time

from arch.errors import MappingError
from arch.registry import load_arch
from mappings.workloads import MODELS, SEQ_LENS, workload
from studies.families import engine_run
from studies.families.attention import ladder_graph

CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")


def _timed(f, *args, repeat: int = 3, **kwargs) -> tuple:
    """(least CPU time of ``repeat`` calls in seconds, the result): CPU time of this process,
    and the least of the calls, are the figures least disturbed by other work on the machine."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        out = f(*args, **kwargs)
        best = min(best, time.process_time() - t)
    return best, out


def compare(config: str, models, seq_lens, engines, overrides: dict | None = None) -> dict:
    """Ratios (mapping / hand-written) of cycles and energy per engine, lowering times (s), the
    points no file of the rung runs, and the file each point ran (``files``: name -> points)."""
    from sim.attention import DEFAULT_ARCH
    from sim.attention import lower as hand_lower

    spec = load_arch(DEFAULT_ARCH[config], dict(overrides or {}))
    ratios = {(e, k): [] for e in engines for k in ("cycles", "energy")}
    t_hand = t_map = 0.0
    n, refused, files = 0, [], {}
    for model in models:
        for L in seq_lens:
            wl = workload(model, L, 64)
            dt, g_hand = _timed(hand_lower, spec, wl, config, dram_staging=False)
            t_hand += dt
            try:
                dt, (g_map, name) = _timed(ladder_graph, spec, wl, config)
            except MappingError:
                refused.append((model, L))
                continue
            files.setdefault(name, []).append((model, L))
            t_map += dt
            n += 1
            for e in engines:
                run = engine_run(e, "ladder_mappings")
                a, b = run(g_hand), run(g_map)
                ratios[(e, "cycles")].append((b.cycles / a.cycles, model, L))
                ratios[(e, "energy")].append((b.energy_pj / a.energy_pj, model, L))
    return {"ratios": ratios, "lower_hand_s": t_hand / max(n, 1), "lower_map_s": t_map / max(n, 1),
            "refused": refused, "files": files}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.ladder_mappings", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seq-lens", default=",".join(SEQ_LENS))
    ap.add_argument("--engines", default="analytical,des")
    ap.add_argument("--pe-dims", default="", help="comma list of pe_dim values (default: the presets' own)")
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    for config in args.configs.split(","):
        if config not in CONFIGS:
            ap.error(f"--configs: {config!r} is not a rung of the ladder ({', '.join(CONFIGS)})")
    pe_dims = [int(v) for v in args.pe_dims.split(",") if v] or [None]
    print(f"{'config':<13}{'pe_dim':>7} {'engine':<11}{'cycles min':>11}{'max':>8}{'energy min':>12}{'max':>8}"
          f"{'lower hand ms':>15}{'lower map ms':>14}  refused")
    for config in args.configs.split(","):
        for pd in pe_dims:
            r = compare(config, args.models.split(","), args.seq_lens.split(","), engines,
                        {"pe_dim": pd} if pd else None)
            refused = " ".join(f"{m}:{L}" for m, L in r["refused"]) or "-"
            for e in engines:
                c, en = r["ratios"][(e, "cycles")], r["ratios"][(e, "energy")]
                head = f"{config:<13}{pd or '-':>7} {e:<11}"
                if not c:
                    print(f"{head}{'':>53}  {refused}")
                    continue
                print(f"{head}{min(c)[0]:>11.4f}{max(c)[0]:>8.4f}{min(en)[0]:>12.4f}{max(en)[0]:>8.4f}"
                      f"{r['lower_hand_s'] * 1e3:>15.2f}{r['lower_map_s'] * 1e3:>14.2f}  {refused}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
