"""Attention and encoder layers on FuseMax-style spatial accelerators, lowered to task graphs.

In hardware terms: a 2D PE array and a 1D PE array share a global buffer and a DRAM channel;
an attention cascade (:mod:`mappings.library`) is bound Einsum by Einsum to the arrays, tiled
``M0 x P0`` to the 2D array, and scheduled tile step by tile step. The five configurations of
FuseMax's ablation ladder (Nayak et al., MICRO 2024, arXiv 2406.10491; docs/sources.md#fusemax-results):

============  ===========  =====================================================================
config        cascade      binding and schedule
============  ===========  =====================================================================
unfused       3-pass       QK, softmax, AV as separate phases through DRAM (:mod:`.unfused`)
flat          3-pass       FLAT: softmax on the 1D array, row blocks fused on chip, QK/SN
                           spilled to DRAM when the blocks do not fit (:mod:`.flat`)
cascade       1-pass       FLAT hardware, only BQK and SLNV on the 2D array (:mod:`.fused`)
architecture  1-pass       FuseMax hardware and binding, one tile at a time (:mod:`.fused`)
fusemax       1-pass       FuseMax: binding, epoch pipelining, interleaving (:mod:`.fused`)
============  ===========  =====================================================================

``scope="end2end"`` adds the layer's linear layers before and after attention
(:mod:`.linear`). Use :func:`lower` and run the graph with :func:`sim.analytical.run` or
:func:`sim.des.run`.
"""

from __future__ import annotations

from arch.errors import WorkloadError
from sim.attention import flat, fused, linear, unfused
from sim.attention.hw import DRAM, Hardware, hardware
from sim.taskgraph import TaskGraph

#: The ablation ladder, in the paper's order.
CONFIGS = ("unfused", "flat", "cascade", "architecture", "fusemax")
SCOPES = ("attention", "end2end")
#: The preset each config runs on by default (the hardware it assumes).
DEFAULT_ARCH = {"unfused": "unfused", "flat": "flat", "cascade": "flat",
                "architecture": "fusemax", "fusemax": "fusemax"}


def check_config(config) -> str:
    c = str(config).strip().lower()
    if c not in CONFIGS:
        raise WorkloadError(f"'config' must be one of {', '.join(CONFIGS)}, not {config!r}")
    return c


def check_scope(scope) -> str:
    s = str(scope).strip().lower()
    if s not in SCOPES:
        raise WorkloadError(f"'scope' must be one of {', '.join(SCOPES)}, not {scope!r}")
    return s


def attention_phases(hw: Hardware, wl, config: str) -> list:
    """The phases of the attention cascade alone."""
    config = check_config(config)
    if config == "unfused":
        return unfused.lower(hw, wl)
    if config == "flat":
        return flat.lower(hw, wl)
    return fused.lower(hw, wl, config)


def lower(spec, wl, config: str = "fusemax", scope: str = "attention",
          dram_staging: bool = True) -> TaskGraph:
    """Lower ``wl`` (:class:`mappings.workloads.Workload`) on ``spec`` to a :class:`TaskGraph`.

    Parameters
    ----------
    spec : arch.spec.SpatialSpec
        The hardware (one 2D and one 1D PE array, a global buffer, DRAM).
    wl : mappings.workloads.Workload
        Model, sequence length and batch.
    config : str
        One of :data:`CONFIGS`.
    scope : str
        ``"attention"`` (the cascade alone) or ``"end2end"`` (one encoder layer).
    dram_staging : bool
        ``True`` (default): every byte moved to or from DRAM is also written to or read from
        the global buffer. ``False``: the FuseMax artifact's convention, where streamed
        tensors bypass the buffer; it changes energy only, not cycles.
    """
    config, scope = check_config(config), check_scope(scope)
    if not isinstance(dram_staging, bool):
        raise WorkloadError(f"'dram_staging' must be true or false, not {dram_staging!r}")
    hw = hardware(spec, stage_dram=dram_staging)
    phases = attention_phases(hw, wl, config)
    if scope == "end2end":
        before, after = wl.linear_layers()
        phases = linear.lower(hw, before) + phases + linear.lower(hw, after)
    units = {hw.u2d.name: hw.u2d.pes, hw.u1d.name: hw.u1d.pes, DRAM: 1}
    meta = {"config": config, "scope": scope, "model": wl.model.name, "seq_len": wl.seq_len,
            "batch": wl.batch, "unit_2d": hw.u2d.name, "unit_1d": hw.u1d.name,
            "dram_staging": dram_staging}
    if config == "flat":
        meta.update(flat.describe(hw, wl))
    elif config != "unfused":
        meta.update(fused.describe(hw, wl, config))
    return TaskGraph(phases, units, spec.clock_hz, meta=meta)


__all__ = ["CONFIGS", "SCOPES", "DEFAULT_ARCH", "lower", "attention_phases", "hardware",
           "check_config", "check_scope"]
