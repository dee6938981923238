"""The ``attention`` workload family: one attention layer of a transformer on a spatial array.

In hardware terms a FuseMax-style floor plan: a 2D PE array and a 1D PE array share a global
buffer and a DRAM channel. A design point is a model (``bert``, ``trxl``, ``t5``, ``xlm``), a
sequence length (1K..1M or an integer; keys = queries), a batch (64 by default, as FuseMax
evaluates), a configuration of FuseMax's ablation ladder (Nayak et al., MICRO 2024, arXiv
2406.10491; docs/sources.md#fusemax-results) and the architecture's short parameters
(``pe_dim``, ``glb_mb``, ``dram_gbps``, ``clock_mhz``). A configuration is the name of a rung
whose mapping files are shipped (mappings/shipped/, :data:`LADDER_FILES`), run by the generic
lowering (:func:`sim.cascade.lower`):

============  ===========  ==========================================================
config        cascade      mapping files
============  ===========  ==========================================================
unfused       3-pass       ``unfused``: QK, softmax and AV as kernels meeting in DRAM
flat          3-pass       ``flat`` (score blocks on chip) or ``flat-spill`` (scores
                           through DRAM), the least bound on time (FLAT's own choice)
cascade       1-pass       ``cascade``: FLAT hardware, only BQK and SLNV on the 2D array
architecture  1-pass       ``architecture``: FuseMax's binding, one tile at a time
fusemax       1-pass       ``fusemax``: binding, epoch pipelining, interleaving
============  ===========  ==========================================================

``dram_staging`` (``no`` by default: the files' keep/bypass decide, tensor by tensor, as the
published artifact's mappings do) says whether every byte moved to and from DRAM also passes
the global buffer on top of what the files keep (``yes``; cycles are the same either way). The ``end2end`` family adds the layer's linear
layers around attention, through :data:`LINEAR_FILE`.

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

from dataclasses import replace
from functools import lru_cache

from arch.area import total_area_mm2
from arch.errors import SpecError, WorkloadError
from arch.registry import load_arch
from mappings.workloads import format_seq_len, workload
from studies.families import engine_run, require_kind

SCOPE = "attention"
#: The ablation ladder, in the paper's order.
CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")
SCOPES = ("attention", "end2end")
#: The preset each rung runs on (the hardware it assumes).
DEFAULT_ARCH = {"unfused": "unfused", "flat": "flat", "cascade": "flat",
                "architecture": "fusemax", "fusemax": "fusemax"}
LADDER_PRESETS = ("fusemax", "flat", "unfused")
#: The shipped mapping files (mappings/shipped/) of each rung of FuseMax's ladder. With more
#: than one, the point runs the one with the least bound on time that fits (FLAT's own
#: choice between score blocks on chip and scores spilled to DRAM, docs/fusemax.md).
LADDER_FILES = {"unfused": ("unfused",), "flat": ("flat", "flat-spill"), "cascade": ("cascade",),
                "architecture": ("architecture",), "fusemax": ("fusemax",)}
#: The shipped mapping of the library's GEMM cascade that runs the linear layers (end2end).
LINEAR_FILE = "linear"
ARCH_KEYS = ("pe_dim", "glb_mb", "dram_gbps", "clock_mhz")
WORKLOAD_KEYS = {"model", "seq_len", "batch", "config", "dram_staging"} | set(ARCH_KEYS)
_YES_NO = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
#: The embedded default sweep of ``explore --arch fusemax``: FuseMax against FLAT.
DEFAULTS = [{"model": m, "seq_len": L, "config": c}
            for m in ("bert", "xlm") for L in ("1K", "16K", "1M") for c in ("flat", "fusemax")]


def _staging(value) -> bool:
    text = str(value).lower()
    if text not in _YES_NO:
        raise WorkloadError(f"'dram_staging' must be yes or no, not {value!r}")
    return _YES_NO[text]


@lru_cache(maxsize=256)
def _spec(arch: str, overrides: tuple):
    return load_arch(arch, dict(overrides))


def check_config(config) -> str:
    """``config`` as a rung of :data:`CONFIGS` (case-insensitive); :class:`WorkloadError` if not."""
    c = str(config).strip().lower()
    if c not in CONFIGS:
        raise WorkloadError(f"'config' must be one of {', '.join(CONFIGS)}, not {config!r}")
    return c


def check_scope(scope) -> str:
    """``scope`` as one of :data:`SCOPES` (case-insensitive); :class:`WorkloadError` if not."""
    s = str(scope).strip().lower()
    if s not in SCOPES:
        raise WorkloadError(f"'scope' must be one of {', '.join(SCOPES)}, not {scope!r}")
    return s


def input_files(arch: str, params: dict) -> list:
    """The spec file a point runs on (a ladder preset's own hardware), for the resume key;
    none when the configuration is bad (the point reports it when it runs)."""
    from arch.errors import AccelError
    from arch.registry import resolve

    try:
        return [str(resolve(hardware_for(arch, check_config(params.get("config", "fusemax")))))]
    except AccelError:
        return []


def hardware_for(arch: str, config: str) -> str:
    """The preset (or file) a configuration runs on, given ``--arch`` (see the module docstring)."""
    return DEFAULT_ARCH[config] if str(arch) in LADDER_PRESETS else str(arch)


def arrays(spec) -> tuple:
    """(2D array, 1D array): the compute units of ``spec`` the ladder's files bind to.

    Raises
    ------
    SpecError
        ``spec`` has not exactly one 2D and one 1D PE array.
    """
    two = [u for u in spec.compute.values() if u.ndim == 2]
    one = [u for u in spec.compute.values() if u.ndim == 1]
    if len(two) != 1 or len(one) != 1:
        raise SpecError([("compute", f"attention needs exactly one 2D and one 1D PE array, "
                                     f"not {len(two)} and {len(one)}")], getattr(spec, "source", None))
    return two[0], one[0]


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

    ``stage_dram``: every DRAM byte also passes the global buffer (energy only).

    Raises
    ------
    MappingError
        No file of the rung fits (the message of the last one tried).
    """
    from arch.errors import MappingError
    from mappings.cascade_mapping import shipped
    from sim.analytical import phase_bound, serial_cycles
    from sim.cascade import dram_cycles, graph, planned

    m0 = arrays(spec)[0].rows
    best, error = None, None   # best: [bound, graph, name], the bound found when another file plans

    bounds = {}   # phase_bound of each phase of the graphs here, by identity

    def bounded(ph) -> int:
        got = bounds.get(id(ph))
        if got is None:
            got = bounds[id(ph)] = phase_bound(ph)
        return got

    def bound(g) -> int:
        return sum([bounded(ph) for ph in g.phases])

    def ceiling(g) -> int:
        # at least bound(g): a one-iteration fill or drain phase counted at its serial cycles
        return sum([bounded(ph) if ph.iterations > 1 else serial_cycles(ph) for ph in g.phases])

    for name in LADDER_FILES[check_config(config)]:
        mapping = shipped(name)
        try:
            p = planned(*attention_cascade(mapping, wl, m0), mapping, spec)
        except MappingError as err:
            error = err
            continue
        if best is None:
            best = [None, graph(p, stage_dram), name]
            continue
        # FLAT's own choice: the least bound on time (each unit's work, the DRAM channel's
        # traffic, the dependence chains: sim.analytical.phase_bound); a file whose DRAM
        # traffic alone takes as long as the best bound so far cannot be chosen (its bound is
        # at least that traffic's cycles), and is not lowered further; nor when it takes as
        # long as a ceiling on that bound (sim.analytical.serial_cycles), found first
        traffic = dram_cycles(p)
        if best[0] is None:
            if traffic >= ceiling(best[1]):
                continue
            best[0] = bound(best[1])
        if traffic >= best[0]:
            continue
        g = graph(p, stage_dram)
        cycles = bound(g)
        if cycles < best[0]:
            best = [cycles, g, name]
    if best is None:
        raise error
    return best[1], best[2]


def linear_graphs(spec, gemms, stage_dram: bool = False) -> list:
    """Task graphs of ``gemms`` (:class:`mappings.workloads.Gemm`, the layer's linear layers)
    through :data:`LINEAR_FILE`, one per GEMM, their phases named after it: ``M`` = tokens,
    ``K`` = input width, ``N`` = output width of the library's GEMM cascade."""
    from mappings import library
    from mappings.cascade_mapping import shipped
    from sim.cascade import lower
    from sim.taskgraph import Phase

    mapping, cascade, out = shipped(LINEAR_FILE), library.gemm(), []
    for g in gemms:
        graph = lower(cascade, {"M": g.tokens, "N": g.n, "K": g.k}, mapping, spec, stage_dram=stage_dram)
        # renamed only: the tasks are those of phases the lowering checked
        phases = tuple(Phase.trusted(f"{g.name}.{ph.name}", ph.tasks, ph.iterations) for ph in graph.phases)
        out.append(replace(graph, phases=phases))
    return out


def _point_parts(hw_name: str, overrides: tuple, wl, config: str, scope: str, staging: bool) -> tuple:
    """(attention graph, its file, linear graphs before, after) of a point, each built once
    (:func:`_rung`, :func:`_linear`): a sweep's end2end point reuses its attention point's
    lowering, and the configurations that share a preset their linear layers (task graphs are
    immutable)."""
    graph, name = _rung(hw_name, overrides, wl, config, staging)
    if scope != "end2end":
        return graph, name, (), ()
    before, after = wl.linear_layers()
    return graph, name, _linear(hw_name, overrides, tuple(before), staging), _linear(hw_name, overrides, tuple(after), staging)


@lru_cache(maxsize=64)
def _rung(hw_name: str, overrides: tuple, wl, config: str, staging: bool) -> tuple:
    """:func:`ladder_graph` of a point, once per point."""
    return ladder_graph(_spec(hw_name, overrides), wl, config, stage_dram=staging)


@lru_cache(maxsize=64)
def _linear(hw_name: str, overrides: tuple, gemms: tuple, staging: bool) -> tuple:
    """:func:`linear_graphs` of ``gemms`` on a preset, once per preset and shapes."""
    return tuple(linear_graphs(_spec(hw_name, overrides), gemms, staging))


def layer_graph(spec, wl, config: str = "fusemax", scope: str = "attention", dram_staging: bool = False,
                parts: tuple | None = None):
    """The task graph of one design point: rung ``config`` of the ladder (:func:`ladder_graph`)
    for workload ``wl`` (:class:`mappings.workloads.Workload`) on ``spec``, with the layer's
    linear layers before and after it (:func:`linear_graphs`) when ``scope`` is ``end2end``.

    ``dram_staging``: ``True`` books a global-buffer access for every byte moved to or from
    DRAM on top of what the files keep (:func:`sim.cascade.lower`'s ``stage_dram``);
    ``False`` (default) follows each file's keep/bypass, the published artifact's accounting. Energy
    only. The graph's ``meta`` names the rung, the scope, the workload, the two arrays
    (``unit_2d``, ``unit_1d``) and the attention file that ran (``mapping``). ``parts``: those
    graphs already built for this point (:func:`_point_parts`).
    """
    from sim.taskgraph import TaskGraph

    config, scope = check_config(config), check_scope(scope)
    if not isinstance(dram_staging, bool):
        raise WorkloadError(f"'dram_staging' must be true or false, not {dram_staging!r}")
    u2d, u1d = arrays(spec)
    if parts is None:
        graph, name = ladder_graph(spec, wl, config, stage_dram=dram_staging)
        before, after = wl.linear_layers() if scope == "end2end" else ((), ())
        parts = (graph, name, linear_graphs(spec, before, dram_staging), linear_graphs(spec, after, dram_staging))
    graph, name, before, after = parts
    graphs = [*before, graph, *after]
    units = {u2d.name: u2d.pes, u1d.name: u1d.pes}
    for g in graphs:
        units.update(g.units)
    meta = {"config": config, "scope": scope, "model": wl.model.name, "seq_len": wl.seq_len, "batch": wl.batch,
            "unit_2d": u2d.name, "unit_1d": u1d.name, "dram_staging": dram_staging, "mapping": name}
    return TaskGraph(tuple(ph for g in graphs for ph in g.phases), units, spec.clock_hz, meta=meta)


def evaluate_scope(arch: str, params: dict, engine: str, trace, scope: str) -> dict:
    """Shared by the ``attention`` and ``end2end`` families."""
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
    staging = _staging(params.get("dram_staging", "no"))
    arrays(spec)   # a spec that is not a ladder's hardware is refused before anything is built
    graph = layer_graph(spec, wl, config, scope, staging, _point_parts(hw_name, overrides, wl, config, scope, staging))
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
    rec["mapping_file"] = graph.meta["mapping"]     # the rung's shipped attention file that ran
    return rec


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One attention layer: a record with model, seq_len, config, scope, cycles, seconds,
    energy_pj, dram_bytes, utilization {2d, 1d}, simulated_steps, extrapolated_steps."""
    return evaluate_scope(arch, params, engine, trace, SCOPE)
