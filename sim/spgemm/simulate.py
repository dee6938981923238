"""One SpGEMM design point: a kernel of Z = A * B on a PIUMA-like machine, as a Report.

In hardware terms: the kernel's tasks (:mod:`sim.spgemm.kernels`) are lowered into pool phases
of the shared task graph (:mod:`sim.spgemm.lower`), which either engine costs: the
discrete-event engine runs the threads against the DRAM channel, scratchpad ports, atomic units
and network (:mod:`sim.des.pool`), the analytical engine bounds the same phases in closed form
(:mod:`sim.pool_bound`). The product itself comes from the row-wise hash merge run on the data
(:mod:`sim.spgemm.expand`), which every kernel shares because every kernel computes the same Z.

Energy is counts times the spec's per-action energies (:func:`sim.spgemm.lower.pool_phase`):
instructions (pipeline), multiplies (fpu), 8-byte scratchpad accesses, atomic operations,
8-byte DRAM accesses and 8-byte network flits.
"""

from __future__ import annotations

from dataclasses import dataclass

import scipy.sparse as sp

from arch.errors import WorkloadError
from arch.piuma import PiumaSpec
from mappings.spgemm import SpgemmPlan, load as load_plan
from sim import analytical
from sim.des import engine as des
from sim.report import Report
from sim.spgemm.expand import Expansion, expand
from sim.spgemm.kernels import Work, phases_for
from sim.spgemm.lower import task_graph
from sim.taskgraph import TaskGraph

#: The two timing engines: the closed-form lower bound and the event loop.
ENGINES = ("analytical", "des")
#: Most tasks the event loop may run for one product: a task is one event of about a
#: microsecond (R-MAT scale 18 with smash-v3, 11.8 M tasks, runs in about 10 s), so this caps a
#: point at about a minute; the engine's default budget is sized for tile steps.
DES_BUDGET_STEPS = 50_000_000


@dataclass
class SpgemmResult:
    """A simulated kernel: its Report, the explaining counts and the product."""

    kernel: str
    report: Report
    counts: dict
    Z: sp.csr_matrix | None
    graph: TaskGraph

    def record(self, **params) -> dict:
        """Report.record plus the SpGEMM keys (flops, nnz_z, hash_probes, atomics, ...)."""
        rec = self.report.record(**params)
        rec.update(kernel=self.kernel)
        rec.update(self.counts)
        return rec


def check_shapes(A: sp.spmatrix, B: sp.spmatrix):
    """:class:`WorkloadError` unless A's columns match B's rows."""
    if A.shape[1] != B.shape[0]:
        raise WorkloadError(f"'b' must have as many rows as 'a' has columns ({A.shape[1]}), "
                            f"not {B.shape[0]} (shapes {A.shape[0]}x{A.shape[1]} and {B.shape[0]}x{B.shape[1]})")


def simulate(A: sp.csr_matrix, B: sp.csr_matrix, kernel, spec: PiumaSpec,
             expansion: Expansion | None = None, keep_product: bool = True,
             trace: str | None = None, engine: str = "des") -> SpgemmResult:
    """Run one kernel of Z = A * B on ``spec``.

    Parameters
    ----------
    A, B : scipy.sparse.csr_matrix
        Canonical operands (see :func:`sim.spgemm.matrices.canonical`).
    kernel : str or SpgemmPlan
        A kernel's name (:data:`mappings.spgemm.KERNELS`, a shipped mapping), a SpGEMM mapping
        file's path, or a checked mapping (:func:`mappings.spgemm.plan`).
    spec : PiumaSpec
    expansion : Expansion, optional
        A previous :func:`expand` of the same operands (shared between kernels).
    keep_product : bool
        Keep Z in the result.
    trace : str, optional
        Write a Chrome-trace JSON to this path (``des`` only): a track per thread, grouped by
        core, and a track per resource instance (:mod:`sim.des.pool`).
    engine : str
        ``"des"``: the discrete-event engine (:func:`sim.des.engine.run`, pool phases in
        :mod:`sim.des.pool`); ``"analytical"``: the analytical engine (:func:`sim.analytical.run`,
        the closed-form lower bound of :mod:`sim.pool_bound`). Counts, bytes and energy come from
        the task graph and are the same for both; only the timing (cycles, utilization,
        occupancy) differs.

    Returns
    -------
    SpgemmResult
    """
    plan = kernel if isinstance(kernel, SpgemmPlan) else load_plan(kernel)
    if engine not in ENGINES:
        raise WorkloadError(f"'engine' must be analytical or des, not {engine!r}")
    if trace and engine != "des":
        raise WorkloadError("'trace' needs engine des: the analytical bound has no timeline")
    check_shapes(A, B)
    e = expansion if expansion is not None else expand(A, B, keep_product=keep_product)
    phases, counts = phases_for(plan, Work(A, B, e), spec)
    graph = task_graph(phases, spec)
    if engine == "analytical":
        report = analytical.run(graph)
    else:
        report = des.run(graph, trace=trace, timeline_limit=0, budget_steps=DES_BUDGET_STEPS)
    counts = dict(_counts(report, e, plan.hashing, graph.steps()), **counts)
    return SpgemmResult(kernel=plan.name, report=report, counts=counts, Z=e.Z if keep_product else None, graph=graph)


def _counts(report: Report, e: Expansion, hashing: bool, tasks: int) -> dict:
    """The record's explaining counts, from the Report's actions and its pool summary."""
    act, pool = report.actions, report.meta["pool"]
    probes = e.total_probes if hashing else 0
    busy, work = pool["worker_busy_cycles"], pool["worker_work"]
    return dict(
        flops=e.total_flops,
        nnz_z=e.total_nnz,
        hash_probes=int(probes),
        hash_collisions=int(probes - e.total_flops) if hashing else 0,
        max_probe=int(e.max_probe) if hashing else 0,
        atomics=int(round(act[("atomic_unit", "atomic")])),
        instructions=int(round(act[("pipeline", "instruction")])),
        spad_accesses=int(round(act[("scratchpad", "access")])),
        network_bytes=int(round(act[("network", "access")])),
        tasks=tasks,
        dram_bw_utilization=report.utilization.get("dram", 0.0),
        thread_occupancy=float(busy.mean() / report.cycles) if report.cycles else 0.0,
        work_imbalance=float(work.max() / work.mean()) if work.sum() > 0 else 1.0,
    )
