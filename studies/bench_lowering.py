"""How long lowering a rung of FuseMax's ladder takes: its mapping files into a task graph.

For every rung of the ablation ladder (:data:`studies.families.attention.CONFIGS`), on the
rung's own paper hardware, lowers each of the 24 model x length points (batch 64) through
:func:`studies.families.attention.ladder_graph` (the rung's shipped files through the generic
lowering; FLAT lowers both of its files and keeps the faster on the analytical engine, as a
point does) and prints the CPU time per point: the least of ``--repeat`` lowerings of each
point (the figure least disturbed by other work on the machine), averaged over the points.

``--ref PATH`` also times the hand-written lowerings the files replaced (``sim.attention.lower``
with the published artifact's ``dram_staging=no``) from a checkout of the commit that last had
them (``git worktree add /tmp/old 3c01932``), in the same process, point by point: its
packages are imported from ``PATH`` under their own names and swapped in while it runs
(:class:`Checkout`). The ratio is mapping files / hand-written.

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


class Checkout:
    """The project's packages (:data:`PACKAGES`) as imported from the checkout at ``path``,
    kept apart from this one's: inside :meth:`active` an ``import`` (at the top of a module
    or inside a function) finds the checkout's, after it this one's again."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.modules = {}

    @contextmanager
    def active(self):
        ours = _take_packages()
        sys.modules.update(self.modules)
        sys.path.insert(0, self.path)
        try:
            yield
        finally:
            sys.path.remove(self.path)
            self.modules = _take_packages()
            sys.modules.update(ours)


def _take_packages() -> dict:
    """Remove the modules of :data:`PACKAGES` from ``sys.modules``; return them."""
    return {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in PACKAGES}


def _files_path(config: str):
    """(lower, spec, workload) of this checkout: ``lower(spec, wl)`` is
    :func:`~studies.families.attention.ladder_graph` of rung ``config``."""
    from arch.registry import load_arch
    from mappings.workloads import workload
    from studies.families.attention import DEFAULT_ARCH, ladder_graph

    return (lambda spec, wl: ladder_graph(spec, wl, config)), load_arch(DEFAULT_ARCH[config], {}), workload


def _hand_path(config: str):
    """(lower, spec, workload) of a reference checkout (active): its hand-written lowering of
    rung ``config`` with the published artifact's ``dram_staging=no``."""
    from arch.registry import load_arch
    from mappings.workloads import workload
    from sim.attention import DEFAULT_ARCH, lower

    return (lambda spec, wl: lower(spec, wl, config, dram_staging=False)), load_arch(DEFAULT_ARCH[config], {}), workload


def time_rung(config: str, repeat: int, ref: Checkout | None = None) -> tuple:
    """(files, hand-written): mean over :func:`points` of the least CPU time (s) of lowering
    rung ``config`` (``hand-written`` None without a reference checkout ``ref``). Each point
    is lowered by one path right after the other, so that both see the same machine."""
    files = _files_path(config)
    hand = None
    if ref is not None:
        with ref.active():
            hand = _hand_path(config)
    t_files = t_hand = 0.0
    for model, length in points():
        lower, spec, workload = files
        t_files += least_cpu_s(lower, spec, workload(model, length, 64), repeat=repeat)
        if hand is not None:
            with ref.active():
                lower, spec, workload = hand
                t_hand += least_cpu_s(lower, spec, workload(model, length, 64), repeat=repeat)
    n = len(points())
    return t_files / n, (t_hand / n if hand is not None else None)


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
    checkout = Checkout(ref) if ref else None
    print(f"{'config':<14}{'files ms':>10}" + (f"{'hand ms':>10}{'ratio':>8}" if ref else ""))
    for c in configs:
        files, hand = time_rung(c, args.repeat, checkout)
        row = f"{c:<14}{files * 1e3:>10.2f}"
        if hand is not None:
            row += f"{hand * 1e3:>10.2f}{files / hand:>8.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
