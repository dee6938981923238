"""How many design points per second the analytical engine evaluates on this machine.

Three measurements, each the wall time of whole design points (spec overrides applied, workload
lowered to a task graph, engine run, record built), single process:

1. a systolic GEMM sweep (the ``gemm`` family of ``explore``: arrays 16..128 square and
   non-square, three dataflows, several GEMMs);
2. one attention layer (BERT-Base, batch 64) on the ``fusemax`` preset over sequence lengths,
   through the shipped ``fusemax`` mapping (the attention family's ``layer_graph``; also with
   the engine's structure caches cleared before every point, the first point of a sweep), the
   FuseMax study's 240 records (:mod:`studies.fusemax`), and through the loop-nest lowering of
   the 1-pass cascade (one EinsumMapping per Einsum, FuseMax's binding, all fused), both as task
   graph + engine and as the engine's closed form (what a mapper or a large sweep calls);
3. the mapper (``mappings.mapper.search``) on a GEMM: searched design points per second (its
   x ZigZag column divides by ZigZag's mapping evaluations per second, which understates the
   ratio per design point), and how many of the candidates it costed (the others are invalid or
   pruned by a lower bound that proves they cannot win; the result is the exhaustive search's).

ZigZag, the usual reference point, evaluates about 100-170 mappings per second on this 2-core
machine (docs/sources.md#zigzag-rate); the target is at least 100 times that per design point.
``python -m studies.vs_zigzag`` runs ZigZag itself side by side on the same layers when it is
installed in its own environment (docs/spec.md, "Side by side with ZigZag").
Run: ``python -m studies.bench_analytical``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

ZIGZAG_PER_S = 170  # docs/sources.md#zigzag-rate: ZigZag ~100-170 mapping evaluations/s on 2 cores (upper end)


def bench_systolic(repeat: int) -> tuple:
    from studies.families import gemm

    arrays = [(16, 16), (32, 32), (64, 64), (128, 128), (32, 128), (128, 32)]
    gemms = [(256, 128, 256), (17, 250, 64), (1024, 1024, 1024), (1, 4096, 512)]
    points = [{"M": str(M), "N": str(N), "K": str(K), "rows": str(R), "cols": str(C), "dataflow": df}
              for (R, C), (M, N, K), df in itertools.product(arrays, gemms, ("os", "ws", "is"))]
    for p in points:  # warm the spec cache: one YAML parse per (rows, cols, dataflow)
        gemm.evaluate("systolic", p, "analytical")
    best = float("inf")
    for _ in range(repeat):  # best pass of ``repeat``: the machine is shared, the minimum is stable
        t0 = time.perf_counter()
        for p in points:
            gemm.evaluate("systolic", p, "analytical")
        best = min(best, time.perf_counter() - t0)
    return len(points), best


def bench_attention_generic(seq_lens, closed_form: bool = False) -> tuple:
    from arch.registry import load_arch
    from mappings import library
    from mappings.mapping import EinsumMapping, Mapping, shapes_from_cascade
    from sim.analytical import run
    from sim.lower import cost_mapping, lower

    spec = load_arch("fusemax")
    cascade = library.attention(passes=1, deferred_division=True)
    one_d = {"RM", "PRM", "SPD", "RD", "SPNV", "RNV", "AV"}  # FuseMax binding (docs/sources.md#fusemax-mapping)
    t0 = time.perf_counter()  # spec parsed and cascade built once, above; each point below
    n = 0                     # derives its Einsum shapes, maps, lowers and runs
    for L in seq_lens:
        shapes = shapes_from_cascade(cascade, {"M": L, "P": L, "E": 64, "F": 64, "M0": 256})
        ems = []
        for name, s in shapes.items():
            unit = "pe1d" if name in one_d else "pe2d"
            spatial = (("P", min(256, s.ranks["P"])),)
            if unit == "pe2d" and "M0" in s.ranks:
                spatial = (("M0", 256), ("P", 256))
            tiles = {"glb": {r: min(size, 256) for r, size in s.ranks.items()}}
            ems.append(EinsumMapping(name, unit, spatial, tiles, tuple(s.ranks)))
        mapping = Mapping(ems, fusion=(tuple(shapes),))
        if closed_form:
            cost_mapping(spec, shapes, mapping)
        else:
            run(lower(spec, shapes, mapping, check_first=False))
        n += 1
    return n, time.perf_counter() - t0


def _clear_caches(structures: bool):
    """Forget the bounds the engine keeps across phases and, with ``structures``, what it keeps
    per loop-body structure."""
    from sim.analytical import clear_caches

    clear_caches(structures)


def bench_attention_mapped(seq_lens, repeat: int = 3, cold: bool = False):
    """Best of ``repeat`` passes of lowering + engine over ``seq_lens`` (BERT, the shipped
    ``fusemax`` mapping on the fusemax preset).

    Every point is new to the engine (the bounds it keeps across phases are cleared before
    each). ``cold``: the structures kept by the engine are cleared too, as for the first point
    of a sweep; otherwise they are reused, as by any later point of a sweep."""
    from arch.registry import load_arch
    from mappings.workloads import workload
    from sim.analytical import run
    from studies.families.attention import layer_graph

    spec = load_arch("fusemax")
    run(layer_graph(spec, workload("bert", seq_lens[0]), "fusemax"))  # warm the spec and imports
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for L in seq_lens:
            _clear_caches(cold)
            run(layer_graph(spec, workload("bert", L), "fusemax"))
        best = min(best, time.perf_counter() - t0)
    return len(seq_lens), best


def bench_fusemax_study(repeat: int = 3):
    """Best of ``repeat`` passes over the FuseMax study's 240 distinct points (5 configs x 4
    models x 6 lengths x 2 scopes), each a full record (``studies.fusemax.evaluate_point``);
    every pass starts with empty caches, as a fresh sweep does."""
    from studies.fusemax import evaluate_point, points

    pts = points()
    best = float("inf")
    for _ in range(repeat):
        _clear_caches(True)
        t0 = time.perf_counter()
        for p in pts:
            evaluate_point(p)
        best = min(best, time.perf_counter() - t0)
    return len(pts), best


def bench_mapper() -> tuple:
    from arch.registry import load_arch
    from mappings.mapper import search
    from mappings.mapping import gemm_shape
    from sim.lower import ANALYTICAL

    spec, shape = load_arch("fusemax"), gemm_shape(1024, 1024, 1024)
    runs = [search(spec, shape, ANALYTICAL, "edp") for _ in range(5)]
    res = runs[-1]
    return len(runs), sum(r.seconds for r in runs), res.evaluated + res.rejected + res.pruned, res.evaluated


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=20, help="passes over the systolic sweep (the best counts)")
    args = ap.parse_args(argv)
    seq = [1024 * 4**i for i in range(6)] * 5  # 1K .. 1M, five times

    rows = []  # (name, points, seconds, Einsums per point)
    n, dt = bench_systolic(args.repeat)
    rows.append(("systolic GEMM sweep (explore gemm family)", n, dt, 1))
    rows.append(("attention layer, BERT 1K..1M (fusemax.yaml, family's layer_graph)", *bench_attention_mapped(seq), 12))
    rows.append(("  same, structure caches cleared before every point", *bench_attention_mapped(seq, cold=True), 12))
    rows.append(("FuseMax study, 240 points (5 configs, attention+end2end)", *bench_fusemax_study(), 12))
    rows.append(("attention layer, BERT 1K..1M (generic lowering, 12 Einsums)", *bench_attention_generic(seq), 12))
    rows.append(("  same, closed form of the engine (sim.lower.cost_mapping)", *bench_attention_generic(seq, True), 12))
    searches, search_s, decided, costed = bench_mapper()
    rows.append(("mapper: GEMM 1024^3 on fusemax (edp), searched design points", searches, search_s, 1))
    # ZigZag's figure is per mapping evaluation of one layer (one Einsum): an attention layer
    # is 12 of them, so both ratios are shown.
    print(f"{'benchmark':62} {'points':>8} {'seconds':>8} {'points/s':>10} {'x ZigZag':>9} {'Einsums/s':>10} {'x ZigZag':>9}")
    for name, n, dt, k in rows:
        rate = n / dt
        print(f"{name:62} {n:>8} {dt:>8.3f} {rate:>10.0f} {rate / ZIGZAG_PER_S:>8.0f}x "
              f"{rate * k:>10.0f} {rate * k / ZIGZAG_PER_S:>8.0f}x")
    print(f"mapper: {costed} of the {decided} candidates costed, the rest pruned or invalid; "
          f"{search_s / searches * 1e3:.1f} ms per searched design point")
    return 0


if __name__ == "__main__":
    sys.exit(main())
