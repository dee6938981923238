"""The ``attention`` workload family: one attention layer of a transformer on a spatial array.

A design point is a model (``bert``, ``trxl``, ``t5``, ``xlm``), a sequence length (1K..1M or
an integer; keys = queries), a batch (64 by default, as FuseMax evaluates), a configuration of
FuseMax's ablation ladder (``unfused``, ``flat``, ``cascade``, ``architecture``, ``fusemax``;
:mod:`sim.attention`) and the architecture's short parameters (``pe_dim``, ``glb_mb``,
``dram_gbps``, ``clock_mhz``). ``dram_staging`` (``yes`` by default) says whether tensors
moved to and from DRAM pass through the global buffer (``no`` follows the published artifact's
accounting, which charges them no buffer energy; cycles are the same either way).

Hardware per configuration: the ladder compares whole designs, so when ``--arch`` names one of
the ladder's presets (``fusemax``, ``flat``, ``unfused``) each configuration runs on its own
paper hardware (FLAT and +Cascade on ``flat``, Unfused on ``unfused``, +Architecture and
FuseMax on ``fusemax``), with the same parameter overrides applied; any other preset or a spec
file is used as given for every configuration. The record's ``arch`` says which was used.

Command line::

    explore --arch fusemax --workload attention:model=bert,seq_len=1M --engine des
    explore --arch fusemax --set config=flat,fusemax --set seq_len=1K,64K
"""

from __future__ import annotations

from functools import lru_cache

from arch.area import total_area_mm2
from arch.errors import WorkloadError
from arch.registry import load_arch
from mappings.workloads import format_seq_len, workload
from studies.families import engine_run, require_kind

SCOPE = "attention"
ARCH_KEYS = ("pe_dim", "glb_mb", "dram_gbps", "clock_mhz")
WORKLOAD_KEYS = {"model", "seq_len", "batch", "config", "dram_staging"} | set(ARCH_KEYS)
_YES_NO = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


def _staging(value, scope: str) -> bool:
    text = str(value).lower()
    if text not in _YES_NO:
        raise WorkloadError(f"'dram_staging' must be yes or no, not {value!r}")
    return _YES_NO[text]
#: The embedded default sweep of ``explore --arch fusemax``: FuseMax against FLAT.
DEFAULTS = [{"model": m, "seq_len": L, "config": c}
            for m in ("bert", "xlm") for L in ("1K", "16K", "1M") for c in ("flat", "fusemax")]
LADDER_PRESETS = ("fusemax", "flat", "unfused")


@lru_cache(maxsize=256)
def _spec(arch: str, overrides: tuple):
    return load_arch(arch, dict(overrides))


def input_files(arch: str, params: dict) -> list:
    """The spec file a point runs on (a ladder preset's own hardware), for the resume key;
    none when the configuration is bad (the point reports it when it runs)."""
    from arch.errors import AccelError
    from arch.registry import resolve
    from sim.attention import check_config

    try:
        return [str(resolve(hardware_for(arch, check_config(params.get("config", "fusemax")))))]
    except AccelError:
        return []


def hardware_for(arch: str, config: str) -> str:
    """The preset (or file) a configuration runs on, given ``--arch`` (see the module docstring)."""
    from sim.attention import DEFAULT_ARCH

    return DEFAULT_ARCH[config] if str(arch) in LADDER_PRESETS else str(arch)


def evaluate_scope(arch: str, params: dict, engine: str, trace, scope: str) -> dict:
    """Shared by the ``attention`` and ``end2end`` families."""
    from sim.attention import check_config, lower

    unknown = sorted(set(params) - WORKLOAD_KEYS)
    if unknown:
        raise WorkloadError(f"{scope}: unknown parameter {unknown[0]!r} "
                            f"(accepted: {', '.join(sorted(WORKLOAD_KEYS))})")
    config = check_config(params.get("config", "fusemax"))
    wl = workload(params.get("model", "bert"), params.get("seq_len", "1K"), params.get("batch", 64))
    overrides = tuple(sorted((k, str(params[k])) for k in ARCH_KEYS if k in params))
    hw_name = hardware_for(arch, config)
    require_kind(scope, hw_name, "spatial")
    spec = _spec(hw_name, overrides)
    run = engine_run(engine, scope)
    graph = lower(spec, wl, config, scope, dram_staging=_staging(params.get("dram_staging", "yes"), scope))
    report = run(graph, trace=trace) if (trace and engine == "des") else run(graph)
    rec = report.record(**{k: v for k, v in params.items() if k not in ARCH_KEYS})
    u2, u1 = graph.meta["unit_2d"], graph.meta["unit_1d"]
    util = report.utilization
    rec.update(
        arch=hw_name, hardware=hw_name, model=wl.model.name, seq_len=format_seq_len(wl.seq_len),
        seq_len_tokens=wl.seq_len, batch=wl.batch, config=config, scope=scope,
        utilization={"2d": util.get(u2, 0.0), "1d": util.get(u1, 0.0)},
        pe_dim=spec.compute[u2].rows, glb_mb=spec.storage["glb"].size_bytes / 2 ** 20 if "glb" in spec.storage else None,
        dram_gbps=spec.dram.bw_bytes_per_s / 2 ** 30, clock_mhz=spec.clock_mhz,
    )
    rec["area_mm2"] = total_area_mm2(spec)
    return rec


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One attention layer: a record with model, seq_len, config, scope, cycles, seconds,
    energy_pj, dram_bytes, utilization {2d, 1d}, simulated_steps, extrapolated_steps."""
    return evaluate_scope(arch, params, engine, trace, SCOPE)
