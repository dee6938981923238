"""The ``gemm`` workload family: one M x K by K x N matrix multiply on a spatial accelerator.

On a systolic spec (one 2D array with a ``dataflow`` and the three operand SRAMs, such as the
``systolic`` preset) the GEMM is lowered with SCALE-Sim 3's timing (:mod:`sim.systolic`); on any
other spatial spec (``fusemax``, ``flat``, ...) the mapper picks the best mapping of the GEMM
Einsum on the spec's 2D array (:mod:`mappings.mapper`) and the generic lowering costs it.

Command line::

    explore --arch systolic --workload gemm:M=256,N=128,K=256 \\
            --set rows=32,16 --set cols=32,64 --set dataflow=os,ws,is --format json
"""

from __future__ import annotations

from functools import lru_cache

from arch.errors import SpecError, WorkloadError
from arch.registry import load_arch
from studies.families import engine_run, int_param, record_value, require_kind

#: Workload ranks.
GEMM_KEYS = ("M", "N", "K")
#: Architecture parameters (short override names of :func:`arch.spec.apply_overrides`).
ARCH_KEYS = ("rows", "cols", "dataflow", "pe_dim", "glb_mb", "dram_gbps", "clock_mhz")
#: ``objective`` (mapped GEMMs: latency, energy, edp); ``bandwidth`` (systolic: ``calc``, SCALE-Sim's
#: unlimited-bandwidth mode, or ``dram``, folds wait for their DRAM loads).
WORKLOAD_KEYS = set(GEMM_KEYS) | set(ARCH_KEYS) | {"objective", "bandwidth"}
DEFAULTS = [{"M": "256", "N": "128", "K": "256"}]
#: Largest rank size (M, N or K) accepted.
MAX_DIM = 1 << 24


@lru_cache(maxsize=256)
def _spec(arch: str, overrides: tuple):
    """The spec and its total area (mm^2), once per (arch, overrides)."""
    from arch.area import total_area_mm2

    spec = load_arch(arch, dict(overrides))
    return spec, total_area_mm2(spec)


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One design point: a flat record with rows, cols, dataflow, M, N, K, cycles, energy_pj,
    utilization (unit -> fraction), area_mm2 (:mod:`arch.area`), macs, folds (systolic) or
    mappings_evaluated / mappings_pruned / mappings_rejected (mapped: candidates costed, skipped
    by the mapper's exact bound, refused as invalid), and the Report's other fields."""
    unknown = sorted(set(params) - WORKLOAD_KEYS)
    if unknown:
        raise WorkloadError(f"gemm: unknown parameter {unknown[0]!r} (accepted: {', '.join(sorted(WORKLOAD_KEYS))})")
    dims = {k: int_param("gemm", params, k, DEFAULTS[0][k], hi=MAX_DIM) for k in GEMM_KEYS}
    require_kind("gemm", arch, "spatial")
    overrides = tuple(sorted((k, str(params[k])) for k in ARCH_KEYS if k in params))
    spec, area = _spec(str(arch), overrides)
    run = engine_run(engine, "gemm")
    from sim.systolic import SRAMS, lower_gemm

    units = spec.units_2d()
    systolic = len(units) == 1 and units[0].dataflow is not None and all(s in spec.storage for s in SRAMS)
    ignored = [k for k in (("objective",) if systolic else ("bandwidth", "dataflow")) if k in params]
    if ignored:
        raise WorkloadError(f"gemm: '{ignored[0]}' applies to {'mapped' if systolic else 'systolic'} GEMMs only, "
                            f"and {str(arch)!r} is {'systolic' if systolic else 'mapped by the mapper'}")
    if systolic:
        bandwidth = str(params.get("bandwidth", "calc"))
        if bandwidth not in ("calc", "dram"):
            raise WorkloadError(f"gemm: 'bandwidth' must be calc or dram, not {bandwidth!r}")
        graph = lower_gemm(spec, dims["M"], dims["N"], dims["K"], dram_limited=bandwidth == "dram")
        extra = {"rows": units[0].rows, "cols": units[0].cols, "dataflow": units[0].dataflow,
                 "bandwidth": bandwidth}
    else:
        if not units:
            raise SpecError([("compute", "a GEMM needs a 2D compute unit")], spec.source)
        from mappings.mapper import search
        from mappings.mapping import gemm_shape
        from sim.lower import ANALYTICAL, lower

        objective = params.get("objective", "latency")
        einsum = gemm_shape(dims["M"], dims["N"], dims["K"])
        result = search(spec, einsum, ANALYTICAL, objective=objective)
        graph = lower(spec, einsum, result.best)
        extra = {"rows": units[0].rows, "cols": units[0].cols, "dataflow": "mapped",
                 "mappings_evaluated": result.evaluated, "mappings_pruned": result.pruned,
                 "mappings_rejected": result.rejected}
    if trace is not None and engine == "des":
        report = run(graph, trace=trace)
    else:
        report = run(graph)
    swept = {k: record_value(params[k]) for k in ("pe_dim", "glb_mb", "dram_gbps", "clock_mhz", "objective")
             if k in params and k not in extra}
    rec = report.record(**dims, **extra, **swept)
    meta = graph.meta
    rec["macs"] = dims["M"] * dims["N"] * dims["K"]
    rec["area_mm2"] = area
    if "folds" in meta:
        rec["folds"] = meta["folds"]
    return rec
