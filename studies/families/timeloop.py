"""The ``timeloop`` workload family: one Einsum from Timeloop's own files, counted as Timeloop does.

An architect brings a Timeloop v0.4 architecture (``--arch``), problem and mapping, and
optionally the Accelergy energy reference table (ERT) Timeloop wrote next to its outputs, and
gets Timeloop's counts per level and data space, its cycles and its energy
(:mod:`sim.nest`). ``--arch`` may also be our own ``kind: hierarchy`` spec
(:mod:`arch.hierarchy`), with its own energies.

Command line::

    explore --arch A.arch.yaml \\
            --workload timeloop:problem=P.prob.yaml,mapping=M.map.yaml,ert=ERT.yaml --format json

The record has ``cycles`` (Timeloop's convention: the slowest of the MAC steps and each level's
bandwidth; no latency, fill or drain), ``computes`` (MACs), ``energy_pj``, ``accesses``
(level -> data space -> reads, fills, updates: words, totals over all instances),
``energy_breakdown`` (level -> action -> pJ), ``utilization``, ``seconds``, ``dram_bytes``
(words the outermost level moves, in bytes) and the file names.
"""

from __future__ import annotations

from arch.errors import WorkloadError
from arch.registry import arch_kind, load_arch, resolve

#: ``problem`` and ``mapping`` are required; ``ert`` only with a Timeloop architecture.
WORKLOAD_KEYS = {"problem", "mapping", "ert"}
DEFAULTS = [{}]


def _hierarchy(arch: str, ert):
    from arch.timeloop import load_timeloop_arch

    kind = arch_kind(arch)
    if kind == "timeloop":
        return load_timeloop_arch(resolve(arch), ert)
    if kind == "hierarchy":
        if ert is not None:
            raise WorkloadError(f"'ert' needs a Timeloop architecture file; {arch} is kind: hierarchy "
                                f"and prices its own actions")
        return load_arch(arch)
    raise WorkloadError(f"--arch must be a Timeloop v0.4 architecture file or a kind: hierarchy spec, "
                        f"not {arch} (kind {kind!r})")


def evaluate(arch: str, params: dict, engine: str, trace: str | None = None) -> dict:
    """One design point: Timeloop's counts for the problem and mapping files on ``arch``."""
    from mappings.timeloop import read_mapping, read_problem
    from sim.nest import evaluate as count

    unknown = sorted(set(params) - WORKLOAD_KEYS)
    if unknown:
        raise WorkloadError(f"unknown parameter {unknown[0]!r} (accepted: {', '.join(sorted(WORKLOAD_KEYS))})")
    for key in ("problem", "mapping"):
        if not params.get(key):
            raise WorkloadError(f"'{key}' is required (timeloop:problem=P.prob.yaml,mapping=M.map.yaml)")
    if engine != "analytical":
        raise WorkloadError(f"engine must be analytical (Timeloop's closed-form model), not {engine!r}")
    hierarchy = _hierarchy(arch, params.get("ert"))
    shape = read_problem(params["problem"])
    nest = read_mapping(params["mapping"], shape, hierarchy)
    counts = count(hierarchy, shape, nest)
    files = {k: params[k] for k in ("problem", "mapping", "ert") if k in params}
    rec = counts.record(**files)
    rec["engine"] = engine
    return rec
