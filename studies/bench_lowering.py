"""How long lowering a rung of FuseMax's ladder takes: its mapping files into a task graph.

For every rung of the ablation ladder (:data:`studies.families.attention.CONFIGS`), on the
rung's own paper hardware, lowers each of the 24 model x length points (batch 64) through
:func:`studies.families.attention.ladder_graph` (the rung's shipped files through the generic
lowering; FLAT lowers both of its files and keeps the faster on the analytical engine, as a
point does) and prints the CPU time per point: the least of ``--repeat`` lowerings of each
point (the figure least disturbed by other work on the machine), averaged over the points.

``--ref PATH`` also times the hand-written lowerings the files replaced (``sim.attention.lower``
with the published artifact's ``dram_staging=no``) from a checkout of the commit that last had
them (``git worktree add /tmp/old 3c01932``), in the same process: its packages are imported
from ``PATH`` under their own names while it is timed, then this checkout's are put back. The
ratio is mapping files / hand-written.

Run: ``python -m studies.bench_lowering [--configs fusemax,flat] [--repeat 3] [--ref /tmp/old]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from mappings.workloads import MODELS, SEQ_LENS

CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")
#: The project's top-level packages: a reference checkout brings its own of each.
PACKAGES = ("arch", "mappings", "sim", "studies", "rtl")


def least_cpu_s(f, *args, repeat: int = 3) -> float:
    """The least CPU time (s) of this process over ``repeat`` calls of ``f(*args)``."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        f(*args)
        best = min(best, time.process_time() - t)
    return best


def points() -> list:
    """The 24 (model, sequence length) points of the FuseMax study."""
    return [(m, L) for m in MODELS for L in SEQ_LENS]


def time_rung(config: str, lower, load_arch, workload, arch: str, repeat: int) -> float:
    """Mean over :func:`points` of the least CPU time (s) of ``lower(spec, wl, config)``,
    with ``spec = load_arch(arch, {})`` and ``wl = workload(model, length, 64)``."""
    spec = load_arch(arch, {})
    total = 0.0
    for model, length in points():
        total += least_cpu_s(lower, spec, workload(model, length, 64), config, repeat=repeat)
    return total / len(points())


@contextmanager
def checkout(path: Path):
    """Inside: :data:`PACKAGES` import from the checkout at ``path``; after: this one's again."""
    def ours(name):
        return name.split(".")[0] in PACKAGES

    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if ours(k)}
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))
        for k in [k for k in sys.modules if ours(k)]:
            del sys.modules[k]
        sys.modules.update(saved)


def time_reference(path: Path, configs, repeat: int) -> dict:
    """config -> mean CPU s per point of the hand-written lowering of the checkout at ``path``."""
    with checkout(path):
        from arch.registry import load_arch
        from mappings.workloads import workload
        from sim.attention import DEFAULT_ARCH, lower

        def hand(spec, wl, config):
            return lower(spec, wl, config, dram_staging=False)

        return {c: time_rung(c, hand, load_arch, workload, DEFAULT_ARCH[c], repeat) for c in configs}


def time_files(configs, repeat: int) -> dict:
    """config -> mean CPU s per point of :func:`~studies.families.attention.ladder_graph`."""
    from arch.registry import load_arch
    from mappings.workloads import workload
    from studies.families.attention import DEFAULT_ARCH, ladder_graph

    return {c: time_rung(c, ladder_graph, load_arch, workload, DEFAULT_ARCH[c], repeat) for c in configs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.bench_lowering", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of rungs (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="lowerings per point; the least is kept")
    ap.add_argument("--ref", default="", help="checkout of the commit with the hand-written lowerings")
    args = ap.parse_args(argv)
    configs = args.configs.split(",")
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"--configs: {c!r} is not a rung of the ladder ({', '.join(CONFIGS)})")
    if args.repeat < 1:
        ap.error(f"--repeat: must be an integer >= 1, not {args.repeat}")
    ref = Path(args.ref) if args.ref else None
    if ref is not None and not (ref / "sim" / "attention" / "__init__.py").is_file():
        ap.error(f"--ref: {args.ref!r} is not a checkout with sim/attention/ (the hand-written lowerings)")
    files = time_files(configs, args.repeat)
    hand = time_reference(ref, configs, args.repeat) if ref else {}
    print(f"{'config':<14}{'files ms':>10}" + (f"{'hand ms':>10}{'ratio':>8}" if hand else ""))
    for c in configs:
        row = f"{c:<14}{files[c] * 1e3:>10.2f}"
        if hand:
            row += f"{hand[c] * 1e3:>10.2f}{files[c] / hand[c]:>8.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
