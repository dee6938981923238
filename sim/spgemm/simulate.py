"""One SpGEMM design point: a kernel of Z = A * B on a PIUMA-like machine, as a Report.

In hardware terms: the kernel's tasks (:mod:`sim.spgemm.kernels`) run on the machine's threads
against its DRAM channel, scratchpad ports, atomic units and network (:mod:`sim.spgemm.machine`);
or, for the analytical engine, are bounded in closed form from the same demands
(:mod:`sim.spgemm.bound`); the product itself comes from the row-wise hash merge run on the data
(:mod:`sim.spgemm.expand`), which every kernel shares because every kernel computes the same Z.

Energy is counts times the spec's per-action energies: instructions (pipeline), multiplies
(fpu), 8-byte scratchpad accesses, atomic operations, 8-byte DRAM accesses and 8-byte network
flits.
"""

from __future__ import annotations

from dataclasses import dataclass

import scipy.sparse as sp

from arch.errors import WorkloadError
from arch.piuma import PiumaSpec
from sim.report import Report
from sim.spgemm.expand import Expansion, expand
from sim.spgemm.kernels import HASHING, KERNELS, Work, phases_for
from sim.des.trace import write_events
from sim.spgemm.bound import bound
from sim.spgemm.machine import MachineResult, run, trace_events

#: The two timing engines: the closed-form lower bound and the event loop.
ENGINES = ("analytical", "des")


@dataclass
class SpgemmResult:
    """A simulated kernel: its Report, the explaining counts and the product."""

    kernel: str
    report: Report
    counts: dict
    Z: sp.csr_matrix | None
    machine: MachineResult

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


def simulate(A: sp.csr_matrix, B: sp.csr_matrix, kernel: str, spec: PiumaSpec,
             expansion: Expansion | None = None, keep_product: bool = True,
             trace: str | None = None, engine: str = "des") -> SpgemmResult:
    """Run one kernel of Z = A * B on ``spec``.

    Parameters
    ----------
    A, B : scipy.sparse.csr_matrix
        Canonical operands (see :func:`sim.spgemm.matrices.canonical`).
    kernel : str
        One of :data:`sim.spgemm.kernels.KERNELS`.
    spec : PiumaSpec
    expansion : Expansion, optional
        A previous :func:`expand` of the same operands (shared between kernels).
    keep_product : bool
        Keep Z in the result.
    trace : str, optional
        Write a Chrome-trace JSON of the first 200,000 tasks to this path (``des`` only).
    engine : str
        ``"des"``: the event loop (:func:`sim.spgemm.machine.run`); ``"analytical"``: the
        closed-form lower bound (:func:`sim.spgemm.bound.bound`). Counts, bytes and energy are
        the same for both; only the timing (cycles, utilization, occupancy) differs.

    Returns
    -------
    SpgemmResult
    """
    if kernel not in KERNELS:
        raise WorkloadError(f"'kernel' must be one of {', '.join(KERNELS)}, not {kernel!r}")
    if engine not in ENGINES:
        raise WorkloadError(f"'engine' must be analytical or des, not {engine!r}")
    if trace and engine != "des":
        raise WorkloadError("'trace' needs engine des: the analytical bound has no timeline")
    check_shapes(A, B)
    e = expansion if expansion is not None else expand(A, B, keep_product=keep_product)
    w = Work(A, B, e)
    phases, counts = phases_for(kernel, w, spec)
    if engine == "analytical":
        mres = bound(spec, phases)
    else:
        timeline = [] if trace else None
        mres = run(spec, phases, timeline=timeline)
        if trace:
            write_events(trace, trace_events(spec, timeline), spec.clock_hz, truncated=len(timeline) < mres.tasks)
    tot = {}
    for ph in phases:
        for k, v in ph.totals().items():
            tot[k] = tot.get(k, 0.0) + v
    tokens = sum(len(ph) for ph in phases if ph.owner is None)
    atomics = tot["atom"] + tot["atom_all"] + tokens
    actions = {
        ("pipeline", "instruction"): tot["instr"],
        ("fpu", "multiply_add"): float(e.total_flops),
        ("scratchpad", "access_8b"): tot["spad"] + tot["spad_all"],
        ("atomic_unit", "op"): atomics,
        ("dram", "access_8b"): tot["dram_bytes"] / 8,
        ("network", "flit_8b"): (tot["net_bytes"] + 16 * tokens) / 8,
    }
    pj = spec.energy_pj
    per = {"pipeline": pj["instruction"], "fpu": pj["flop"], "scratchpad": pj["spad_access"],
           "atomic_unit": pj["atomic"], "dram": pj["dram_access"], "network": pj["network_access"]}
    energy = {k: v * per[k[0]] for k, v in actions.items()}
    busy = dict(mres.busy_cycles)
    report = Report(engine=engine, cycles=mres.cycles, clock_hz=spec.clock_hz, actions=actions,
                    energy_pj_by=energy, busy_cycles=busy, active_pe_cycles=busy,
                    unit_pes=dict(mres.capacity), dram_bytes=int(round(tot["dram_bytes"])),
                    simulated_steps=mres.tasks if engine == "des" else 0, extrapolated_steps=0,
                    meta={"phases": mres.phases, "phase_cycles": dict(mres.phase_cycles),
                          "limiter": dict(mres.limiter)})
    hashing = kernel in HASHING
    probes = e.total_probes if hashing else 0
    tf = mres.thread_flops
    occupancy = float(mres.thread_busy.mean() / mres.cycles) if mres.cycles else 0.0
    counts = dict(
        flops=e.total_flops,
        nnz_z=e.total_nnz,
        hash_probes=int(probes),
        hash_collisions=int(probes - e.total_flops) if hashing else 0,
        max_probe=int(e.max_probe) if hashing else 0,
        atomics=int(round(atomics)),
        instructions=int(round(tot["instr"])),
        spad_accesses=int(round(tot["spad"] + tot["spad_all"])),
        network_bytes=int(round(tot["net_bytes"] + 16 * tokens)),
        tasks=mres.tasks,
        dram_bw_utilization=report.utilization.get("dram", 0.0),
        thread_occupancy=occupancy,
        work_imbalance=float(tf.max() / tf.mean()) if tf.sum() > 0 else 1.0,
        **counts,
    )
    return SpgemmResult(kernel=kernel, report=report, counts=counts, Z=e.Z if keep_product else None, machine=mres)
