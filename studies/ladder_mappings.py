"""The FuseMax ladder as mapping files against its hand-written lowerings, side by side.

For every configuration of the ablation ladder that ships as a mapping file
(``mappings/shipped/<config>.yaml``, a mapping of the batched attention cascade it names), runs
each of the 24 model x length points twice on the configuration's own paper hardware: once
through the hand-written lowering (:func:`sim.attention.lower`, the artifact's conventions:
``dram_staging=no``) and once through the generic lowering of the mapping
(:func:`sim.cascade.lower`), on both engines; prints per configuration the min/max ratio
(mapping / hand-written) of cycles and energy per engine, the mean time each path takes to
lower one point (the least of three lowerings of each point), and the points the mapping file
cannot run (refused: its tiles do not fit) (the issue's speed target: the mapping path at most 2x the hand-written one).

Run: ``python -m studies.ladder_mappings [--configs fusemax,architecture] [--models bert]
[--seq-lens 1K,1M] [--engines analytical,des]``.
"""

from __future__ import annotations

import argparse
import sys
import time

from arch.errors import MappingError
from arch.registry import load_arch
from mappings.cascade_mapping import load, shipped_names
from mappings.workloads import MODELS, SEQ_LENS, workload
from studies.families import engine_run

CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")


def cascade_point(mapping, model: str, seq_len: str, batch: int = 64, m0: int = 256) -> tuple:
    """(batched cascade, rank sizes) of one attention point for ``mapping``'s cascade
    (``attention-<n>pass[-deferred]``); ``m0``: keys per partition (the 2D array's rows)."""
    from mappings import library

    name = mapping.cascade
    wl = workload(model, seq_len, batch)
    cascade = library.attention(passes=int(name[len("attention-")]), deferred_division=name.endswith("-deferred"),
                                batch=True)
    return cascade, {**wl.attention_shape(), "B": wl.batch, "H": wl.heads, "M0": m0}


def _timed(f, *args, repeat: int = 3, **kwargs) -> tuple:
    """(least wall time of ``repeat`` calls in seconds, the result): the least is the figure
    least disturbed by other work on the machine."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = f(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best, out


def compare(config: str, models, seq_lens, engines) -> dict:
    """Ratios (mapping / hand-written) of cycles and energy per engine, and lowering times (s)."""
    from sim.attention import DEFAULT_ARCH
    from sim.attention import lower as hand_lower
    from sim.cascade import lower as map_lower

    spec = load_arch(DEFAULT_ARCH[config], {})
    mapping = load(config)
    ratios = {(e, k): [] for e in engines for k in ("cycles", "energy")}
    t_hand = t_map = 0.0
    n, refused = 0, []
    for model in models:
        for L in seq_lens:
            wl = workload(model, L, 64)
            cascade, sizes = cascade_point(mapping, model, L, m0=spec.compute["pe2d"].rows)
            dt, g_hand = _timed(hand_lower, spec, wl, config, dram_staging=False)
            t_hand += dt
            try:
                dt, g_map = _timed(map_lower, cascade, sizes, mapping, spec)
            except MappingError:
                refused.append((model, L))
                continue
            t_map += dt
            n += 1
            for e in engines:
                run = engine_run(e, "ladder_mappings")
                a, b = run(g_hand), run(g_map)
                ratios[(e, "cycles")].append((b.cycles / a.cycles, model, L))
                ratios[(e, "energy")].append((b.energy_pj / a.energy_pj, model, L))
    return {"ratios": ratios, "lower_hand_s": t_hand / max(n, 1), "lower_map_s": t_map / max(n, 1),
            "refused": refused}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.ladder_mappings", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(c for c in CONFIGS if c in shipped_names()))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seq-lens", default=",".join(SEQ_LENS))
    ap.add_argument("--engines", default="analytical,des")
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    for config in args.configs.split(","):
        if config not in shipped_names():
            ap.error(f"--configs: {config!r} is not a shipped mapping (shipped: {', '.join(shipped_names())})")
    print(f"{'config':<13}{'engine':<11}{'cycles min':>11}{'max':>8}{'energy min':>12}{'max':>8}"
          f"{'lower hand ms':>15}{'lower map ms':>14}  refused")
    for config in args.configs.split(","):
        r = compare(config, args.models.split(","), args.seq_lens.split(","), engines)
        refused = " ".join(f"{m}:{L}" for m, L in r["refused"]) or "-"
        for e in engines:
            c, en = r["ratios"][(e, "cycles")], r["ratios"][(e, "energy")]
            if not c:
                print(f"{config:<13}{e:<11}{'':>53}  {refused}")
                continue
            worst = max(c)
            print(f"{config:<13}{e:<11}{min(c)[0]:>11.4f}{worst[0]:>8.4f}{min(en)[0]:>12.4f}{max(en)[0]:>8.4f}"
                  f"{r['lower_hand_s'] * 1e3:>15.2f}{r['lower_map_s'] * 1e3:>14.2f}  {refused}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
