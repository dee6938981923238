"""The ``end2end`` workload family: one transformer encoder layer on a spatial array.

The layer is the Q, K and V projections, attention (one configuration of FuseMax's ladder,
its shipped mapping files), the output projection and the two feed-forward GEMMs (the shipped
mapping ``linear`` of the library's GEMM cascade), run one after the other on the same
hardware (:func:`studies.families.attention.layer_graph`). Parameters and
records are those of the ``attention`` family (:mod:`studies.families.attention`) with
``scope`` = ``"end2end"``.

Command line::

    explore --arch fusemax --workload end2end:model=xlm,seq_len=64K
"""

from __future__ import annotations

from studies.families.attention import ARCH_KEYS, WORKLOAD_KEYS, evaluate_scope, input_files  # noqa: F401

SCOPE = "end2end"
DEFAULTS = [{"model": m, "seq_len": L, "config": c}
            for m in ("bert", "xlm") for L in ("1K", "64K") for c in ("flat", "fusemax")]


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One encoder layer: the ``attention`` family's record for the whole layer."""
    return evaluate_scope(arch, params, engine, trace, SCOPE)
