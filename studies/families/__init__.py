"""Workload families: how ``explore`` turns one design point into a record.

A family is a module ``studies.families.<kind>`` for the workload kind named in
``--workload KIND:k=v,...``. It provides

``WORKLOAD_KEYS``
    the parameter names it accepts (workload and architecture parameters alike; ``--set`` and
    ``--workload`` values go to the same place);
``DEFAULTS``
    the design points (dicts of parameters) it runs when the user names no workload;
``evaluate(arch, params, engine, trace=None) -> dict``
    one flat record; bad input raises an :class:`arch.errors.AccelError`;
``input_files(params) -> list`` (optional)
    the files a point reads besides its spec (a matrix, a cascade), whose contents go into
    the sweep's resume key.
"""

from __future__ import annotations

import hashlib
import importlib

from arch.errors import WorkloadError
from arch.numbers import NumberError, parse_int
from arch.registry import arch_kind, resolve

FAMILIES = {
    "gemm": "studies.families.gemm",
    "attention": "studies.families.attention",
    "end2end": "studies.families.end2end",
    "spgemm": "studies.families.spgemm",
    "mmfree": "studies.families.mmfree",
    "timeloop": "studies.families.timeloop",
    "cascade": "studies.families.cascade",
}

# The workload a preset runs when none is named (falls back on the spec's kind).
DEFAULT_KIND_BY_PRESET = {"systolic": "gemm"}
DEFAULT_KIND_BY_SPEC_KIND = {"spatial": "attention", "piuma": "spgemm", "mmfree": "mmfree",
                             "timeloop": "timeloop", "hierarchy": "timeloop"}


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


def engine_run(name: str, kind: str):
    """The ``run(graph, trace=None)`` function of cost engine ``name`` for family ``kind``."""
    if name == "analytical":
        from sim.analytical import run
        return run
    if name == "des":
        from sim.des import run
        return run
    raise WorkloadError(f"{kind}: 'engine' must be analytical or des, not {name!r}")


def int_param(kind: str, params: dict, name: str, default=None, lo: int = 1, hi: int = 1 << 24):
    """Workload parameter ``name`` read strictly as an integer in ``[lo, hi]``
    (:func:`arch.numbers.parse_int`), ``default`` when absent; the error names the family."""
    value = params.get(name, default)
    if value is None:
        return None
    try:
        return parse_int(value, name, lo, hi)
    except NumberError as err:
        raise NumberError(f"{kind}: {err}") from None


def record_value(value):
    """A swept value as it should appear in a record: int or float when it is one."""
    s = str(value)
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def require_kind(kind: str, arch, want: str) -> None:
    """Refuse ``arch`` unless its spec is of kind ``want`` (checked before anything is built)."""
    got = arch_kind(arch)
    if got != want:
        raise WorkloadError(f"{kind}: 'arch' must be a spec of kind {want}, not {str(arch)!r} (kind {got!r})")


def file_digest(path) -> str:
    """SHA-256 (hex) of a file's bytes, or ``"missing"`` when it cannot be read (the point
    itself then reports why)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except (OSError, ValueError):
        return "missing"
    return h.hexdigest()
