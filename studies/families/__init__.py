"""Workload families: how ``explore`` turns one design point into a record.

A family is a module ``studies.families.<kind>`` for the workload kind named in
``--workload KIND:k=v,...``. It provides

``WORKLOAD_KEYS``
    the parameter names it accepts (workload and architecture parameters alike; ``--set`` and
    ``--workload`` values go to the same place);
``DEFAULTS``
    the design points (dicts of parameters) it runs when the user names no workload;
``evaluate(arch, params, engine, trace=None) -> dict``
    one flat record; bad input raises an :class:`arch.errors.AccelError`.
"""

from __future__ import annotations

import importlib

from arch.errors import WorkloadError
from arch.registry import arch_kind, resolve

FAMILIES = {
    "gemm": "studies.families.gemm",
    "attention": "studies.families.attention",
    "end2end": "studies.families.end2end",
    "spgemm": "studies.families.spgemm",
    "mmfree": "studies.families.mmfree",
    "cascade": "studies.families.cascade",
}

# The workload a preset runs when none is named (falls back on the spec's kind).
DEFAULT_KIND_BY_PRESET = {"systolic": "gemm"}
DEFAULT_KIND_BY_SPEC_KIND = {"spatial": "attention", "piuma": "spgemm", "mmfree": "mmfree"}


def family(kind: str):
    """The family module of a workload kind; :class:`WorkloadError` if there is none."""
    if kind not in FAMILIES:
        raise WorkloadError(f"unknown workload kind {kind!r} (kinds: {', '.join(FAMILIES)})")
    try:
        return importlib.import_module(FAMILIES[kind])
    except ModuleNotFoundError as err:
        if err.name == FAMILIES[kind]:
            raise WorkloadError(f"workload kind {kind!r} is not available in this build") from None
        raise


def default_kind(arch: str) -> str:
    """The workload kind a preset or spec file runs by default."""
    resolve(arch)
    name = str(arch)
    if name in DEFAULT_KIND_BY_PRESET:
        return DEFAULT_KIND_BY_PRESET[name]
    return DEFAULT_KIND_BY_SPEC_KIND.get(arch_kind(arch), "attention")
