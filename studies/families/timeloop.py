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
``energy_breakdown`` (component -> pJ), ``energy_by_action`` (component -> action -> pJ), ``utilization``, ``seconds``, ``dram_bytes``
(words the outermost level moves, in bytes) and the file names.

Without ``mapping=`` the hierarchy mapper (:mod:`mappings.nest_mapper`) searches for the best
mapping under the architecture's and an optional ``constraints=`` file's constraints
(:func:`_searched`).
"""

from __future__ import annotations

from arch.errors import WorkloadError
from arch.registry import arch_kind, load_arch, resolve

#: ``problem`` is required; ``ert`` only with a Timeloop architecture; without ``mapping`` the
#: hierarchy mapper searches (``constraints``, ``objective``, ``time_limit``: see :func:`_searched`).
WORKLOAD_KEYS = {"problem", "mapping", "ert", "constraints", "objective", "time_limit"}
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
    if not params.get("problem"):
        raise WorkloadError("'problem' is required (timeloop:problem=P.prob.yaml,mapping=M.map.yaml)")
    if engine != "analytical":
        raise WorkloadError(f"engine must be analytical (Timeloop's closed-form model), not {engine!r}")
    hierarchy = _hierarchy(arch, params.get("ert"))
    shape = read_problem(params["problem"])
    if not params.get("mapping"):
        return _searched(arch, hierarchy, shape, params, engine)
    for key in ("constraints", "objective", "time_limit"):
        if key in params:
            raise WorkloadError(f"'{key}' is for a search; it cannot go with 'mapping'")
    nest = read_mapping(params["mapping"], shape, hierarchy)
    counts = count(hierarchy, shape, nest)
    files = {k: params[k] for k in ("problem", "mapping", "ert") if k in params}
    rec = counts.record(**files)
    rec["engine"] = engine
    return rec


def _searched(arch: str, hierarchy, shape, params: dict, engine: str) -> dict:
    """No mapping given: the hierarchy mapper's best (:mod:`mappings.nest_mapper`).

    ``constraints=C.yaml``: Timeloop mapper constraints and options
    (:mod:`mappings.timeloop_constraints`; a Timeloop architecture's own node constraints
    always apply). ``objective=latency|energy|edp``: overrides the file's
    ``optimization_metrics`` (default ``edp``). ``time_limit=S``: stop after S CPU seconds with the
    best found (``search.complete`` false). The record is the model's for the mapping found,
    which it carries as data under ``mapping``, with ``search`` (objective, evaluated, pruned,
    seconds, complete).
    """
    from mappings.mapper import OBJECTIVES
    from mappings.nest_mapper import as_data, search
    from mappings.timeloop_constraints import read_constraints
    from sim.nest import evaluate as count
    from sim.nest_bounds import NestCost

    tl_arch = str(resolve(arch)) if arch_kind(arch) == "timeloop" else None
    rules, file_objective = read_constraints(params.get("constraints"), hierarchy, shape, arch_path=tl_arch)
    objective = params.get("objective") or file_objective or "edp"
    if objective not in OBJECTIVES:
        raise WorkloadError(f"'objective' must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    limit = params.get("time_limit")
    if limit is not None:
        try:
            limit = float(limit)
        except (TypeError, ValueError):
            limit = -1.0
        if not limit > 0:
            raise WorkloadError(f"'time_limit' must be a positive number of seconds, not {params['time_limit']!r}")
    found = search(hierarchy, shape, NestCost(hierarchy, shape), objective, rules, time_limit_s=limit)
    files = {k: params[k] for k in ("problem", "constraints", "ert") if k in params}
    rec = count(hierarchy, shape, found.best).record(**files)
    rec["engine"] = engine
    rec["mapping"] = as_data(found.best)
    rec["search"] = {"objective": objective, "evaluated": found.evaluated, "pruned": found.pruned,
                     "seconds": found.seconds, "complete": found.complete}
    return rec
