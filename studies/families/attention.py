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


#: The shipped mapping files (mappings/shipped/) of each rung of FuseMax's ladder. With more
#: than one, the point runs the one with the fewest analytical cycles that fits (FLAT's own
#: choice between score blocks on chip and scores spilled to DRAM, docs/fusemax.md).
LADDER_FILES = {"unfused": ("unfused",), "flat": ("flat", "flat-spill"), "cascade": ("cascade",),
                "architecture": ("architecture",), "fusemax": ("fusemax",)}


@lru_cache(maxsize=8)
def _batched_attention(passes: int, deferred: bool):
    """The library's batched attention cascade, built once per variant."""
    from mappings import library

    return library.attention(passes=passes, deferred_division=deferred, batch=True)


def attention_cascade(mapping, wl, m0: int) -> tuple:
    """(batched cascade, rank sizes) of workload ``wl`` for ``mapping``'s cascade
    (``attention-<n>pass[-deferred]``); ``m0``: keys per partition (the 2D array's rows)."""
    name = mapping.cascade
    cascade = _batched_attention(int(name[len("attention-")]), name.endswith("-deferred"))
    return cascade, {**wl.attention_shape(), "B": wl.batch, "H": wl.heads, "M0": m0}


def ladder_graph(spec, wl, config: str, stage_dram: bool = False) -> tuple:
    """(task graph, name of the mapping file) of rung ``config`` for ``wl`` on ``spec``:
    :data:`LADDER_FILES` through the generic lowering (:func:`sim.cascade.lower`).

    Raises
    ------
    MappingError
        No file of the rung fits (the message of the last one tried).
    """
    from arch.errors import MappingError
    from mappings.cascade_mapping import shipped
    from sim.analytical import run
    from sim.attention import hardware
    from sim.cascade import lower

    m0 = hardware(spec).pd
    best, error = None, None
    for name in LADDER_FILES[config]:
        mapping = shipped(name)
        try:
            graph = lower(*attention_cascade(mapping, wl, m0), mapping, spec, stage_dram=stage_dram)
        except MappingError as err:
            error = err
            continue
        cycles = run(graph).cycles if len(LADDER_FILES[config]) > 1 else 0
        if best is None or cycles < best[0]:
            best = (cycles, graph, name)
    if best is None:
        raise error
    return best[1], best[2]


#: The rungs whose mapping files hold against the dedicated lowerings at every point of the
#: study and under pe_dim sweeps (within 5% cycles and 10% energy: docs/fusemax.md, "The
#: ladder as mapping files"); ``config=`` runs them through the generic lowering. The others
#: keep their dedicated lowering (sim/attention/fused.py).
MAPPED = ("unfused", "flat", "cascade", "architecture", "fusemax")


def mapped_lower(spec, wl, config: str, scope: str, dram_staging: bool):
    """The task graph of rung ``config`` through its mapping files (:func:`ladder_graph`),
    with the layer's linear layers around it when ``scope`` is ``end2end``."""
    from sim.attention import check_scope, hardware, linear
    from sim.taskgraph import TaskGraph

    hw = hardware(spec, stage_dram=dram_staging)
    graph, name = ladder_graph(spec, wl, config, stage_dram=dram_staging)
    phases = list(graph.phases)
    if check_scope(scope) == "end2end":
        before, after = wl.linear_layers()
        phases = linear.lower(hw, before) + phases + linear.lower(hw, after)
    units = {hw.u2d.name: hw.u2d.pes, hw.u1d.name: hw.u1d.pes, **graph.units}
    meta = {"config": config, "scope": scope, "model": wl.model.name, "seq_len": wl.seq_len, "batch": wl.batch,
            "unit_2d": hw.u2d.name, "unit_1d": hw.u1d.name, "dram_staging": dram_staging, "mapping": name}
    return TaskGraph(tuple(phases), units, spec.clock_hz, meta=meta)


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
    staging = _staging(params.get("dram_staging", "yes"), scope)
    if config in MAPPED:
        graph = mapped_lower(spec, wl, config, scope, staging)
    else:
        graph = lower(spec, wl, config, scope, dram_staging=staging)
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
    rec["mapping_file"] = graph.meta.get("mapping")    # the shipped file run, or None (dedicated)
    return rec


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One attention layer: a record with model, seq_len, config, scope, cycles, seconds,
    energy_pj, dram_bytes, utilization {2d, 1d}, simulated_steps, extrapolated_steps."""
    return evaluate_scope(arch, params, engine, trace, SCOPE)
