"""How long lowering a rung of FuseMax's ladder takes: its mapping files into a task graph.

For every rung of the ablation ladder (:data:`studies.families.attention.CONFIGS`), on the
rung's own paper hardware, lowers each of the 24 model x length points (batch 64) through
:func:`studies.families.attention.ladder_graph` (the rung's shipped files through the generic
lowering; FLAT plans both of its files and keeps the one with the least bound on time, as a
point does, lowering the second only when its DRAM traffic alone does not rule it out) and
prints the CPU time per point, averaged over the points, and the Python function calls per
point (cProfile's count: the same on any machine, load or no load).

Each point is lowered as a sweep meets it: once, new. A round first forgets every
``functools`` cache of the project's modules and the analytical engine's kept phases
(:func:`forget`), lowers one point outside the 24 (BERT, the shortest length, batch 1: what a
lowering keeps about the mapping and the hardware is made again, nothing about the 24), then
times each of the 24 points once; the figure is each point's least over ``--repeat`` rounds
(the time least disturbed by other work on the machine).

``--ref PATH`` also times the hand-written lowerings the files replaced (``sim.attention.lower``
with the published artifact's ``dram_staging=no``) from a checkout of the commit that last had
them (``git worktree add /tmp/old 3c01932``), in the same process, point by point and round by
round in the same way: its packages are imported from ``PATH`` under their own names and
swapped in while it runs (:class:`Checkout`). The ratio is mapping files / hand-written.

``--first`` lowers every point as the first of a sweep instead: right before it, every cache is
forgotten and the warm-up point lowered, so nothing is kept from the other 24 points.

Run: ``python -m studies.bench_lowering [--configs fusemax,flat] [--repeat 3] [--ref /tmp/old] [--first]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from mappings.workloads import MODELS, SEQ_LENS

CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")
#: The project's top-level packages: a reference checkout brings its own of each.
PACKAGES = ("arch", "mappings", "sim", "studies", "rtl")


def cpu_s(f, *args) -> float:
    """The CPU time (s) of this process for one call of ``f(*args)``."""
    t = time.process_time()
    f(*args)
    return time.process_time() - t


def calls(f, *args) -> int:
    """Python function calls made by one call of ``f(*args)`` (cProfile's count)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(f, *args)
    return pstats.Stats(prof).total_calls


def forget() -> None:
    """Clear every ``functools`` cache of the project's modules imported now (those of the
    active :class:`Checkout` inside :meth:`Checkout.active`) and the analytical engine's kept
    phases."""
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] in PACKAGES and mod is not None:
            for obj in list(vars(mod).values()):
                if callable(getattr(obj, "cache_clear", None)):
                    obj.cache_clear()
    analytical = sys.modules.get("sim.analytical")
    if analytical is not None and hasattr(analytical, "clear_caches"):
        analytical.clear_caches()


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


def time_rung(config: str, repeat: int, ref: Checkout | None = None, first: bool = False) -> dict:
    """Per path (``files``, and ``hand`` with a reference checkout ``ref``): (CPU s, calls) per
    point, means over :func:`points` of each point's least CPU time over ``repeat`` rounds and
    of its calls (module docstring). Each point is lowered by one path right after the other,
    so that both see the same machine. ``first``: every point as a sweep's first, right after
    forgetting every cache and lowering the warm-up point (nothing kept from the other 24)."""
    paths = {"files": (_files_path(config), None)}
    if ref is not None:
        with ref.active():
            paths["hand"] = (_hand_path(config), ref)
    best = {k: [float("inf")] * len(points()) for k in paths}
    counted = {k: [0] * len(points()) for k in paths}
    for rnd in range(repeat + 1):     # the last round counts calls
        for k, ((lower, spec, workload), checkout) in paths.items():
            with checkout.active() if checkout else nullcontext():
                forget()
                lower(spec, workload(points()[0][0], points()[0][1], 1))
        for i, (model, length) in enumerate(points()):
            for k, ((lower, spec, workload), checkout) in paths.items():
                with checkout.active() if checkout else nullcontext():
                    if first:
                        forget()
                        lower(spec, workload(points()[0][0], points()[0][1], 1))
                    wl = workload(model, length, 64)
                    if rnd < repeat:
                        best[k][i] = min(best[k][i], cpu_s(lower, spec, wl))
                    else:
                        counted[k][i] = calls(lower, spec, wl)
    n = len(points())
    return {k: (sum(best[k]) / n, sum(counted[k]) / n) for k in paths}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.bench_lowering", description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of rungs (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each point's least CPU time is kept")
    ap.add_argument("--ref", default="", help="checkout of the commit with the hand-written lowerings")
    ap.add_argument("--first", action="store_true",
                    help="lower every point as a sweep's first: all caches forgotten, the warm-up point lowered")
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
    print(f"{'config':<14}{'files ms':>10}{'calls':>8}" +
          (f"{'hand ms':>10}{'calls':>8}{'ratio ms':>10}{'calls':>8}" if ref else ""))
    for c in configs:
        got = time_rung(c, args.repeat, checkout, args.first)
        (files, fcalls), hand = got["files"], got.get("hand")
        row = f"{c:<14}{files * 1e3:>10.2f}{fcalls:>8.0f}"
        if hand is not None:
            row += f"{hand[0] * 1e3:>10.2f}{hand[1]:>8.0f}{files / hand[0]:>10.2f}{fcalls / hand[1]:>8.2f}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
