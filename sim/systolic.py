"""A GEMM on an R x C systolic array (TPU-like), lowered to a task graph with SCALE-Sim 3's timing.

In hardware terms: ``O[m,n] = sum_k I[m,k] * W[k,n]`` runs on a grid of ``R x C`` multiply-
accumulate PEs fed from three operand SRAMs (ifmap ``I``, filter ``W``, ofmap ``O``). One operand
(or the output) stays in the PEs for a whole *fold* while the other streams through:

========  ==================  ==================  ================  ==========================
dataflow  array rows hold     array columns hold  streamed rank T   cycles of one fold
========  ==================  ==================  ================  ==========================
os        M (outputs)         N (outputs)         K                 T + R + C - 2
ws        K (weights)         N (weights)         M                 T + 2R + C - 2
is        K (inputs)          M (inputs)          N                 T + 2R + C - 2
========  ==================  ==================  ================  ==========================

A GEMM too large for the array is cut into ``ceil(rows rank / R) * ceil(cols rank / C)`` folds,
run one after the other; an edge fold that uses fewer PEs takes as long as a full one. Where the
per-fold times come from: output stationary streams ``T`` operand pairs into every PE (``T``
cycles), the last row starting ``R - 1`` cycles and the last column ``C - 1`` cycles after the
first (the skew of a systolic wavefront). The stationary dataflows first shift the ``R``
stationary values down the columns (``R`` cycles), then stream ``T`` vectors whose partial sums
need ``R - 1`` more cycles to reach the bottom row and ``C - 1`` more for the skew across the
columns: ``R + (R - 1) + T + (C - 1)``.
SCALE-Sim 3 reports as "Total Cycles" the index of the last cycle in which an output is written,
counting from 0: ``folds * cycles of one fold - 1``. That is the convention here, so the two
agree exactly (docs/sources.md#scalesim-examples; tests/sim/test_systolic.py pins SCALE-Sim's own output).

SRAM accesses are those SCALE-Sim's traces hold (one per word actually read or written; the
padding of edge folds does no access):

========  ==========================  ==========================  =========================
dataflow  ifmap reads                 filter reads                ofmap writes
========  ==========================  ==========================  =========================
os        ceil(N/C) * M * K           ceil(M/R) * K * N           M * N
ws        ceil(N/C) * M * K           K * N                       ceil(K/R) * M * N
is        M * K                       ceil(M/C) * K * N           ceil(K/R) * M * N
========  ==========================  ==========================  =========================

(SCALE-Sim's os report adds ``R + C`` per fold to its ofmap-write counter, a bookkeeping quirk
that its trace does not show; the trace count is used here.) DRAM traffic is the compulsory one
(each operand read once, the output written once): SCALE-Sim's CALC mode assumes unlimited
bandwidth, and its DRAM figures depend on its buffer-replacement model, which is not modelled.
"""

from __future__ import annotations

import math

from arch.errors import SpecError, WorkloadError
from arch.spec import DATAFLOWS
from sim.cost import action_cost, book, dram_transfer, storage_traffic, transfer_cycles
from sim.taskgraph import Dep, Phase, Task, TaskGraph

#: Storage levels a systolic spec must have (SCALE-Sim's three operand SRAMs).
SRAMS = ("ifmap_sram", "filter_sram", "ofmap_sram")


def _check_dims(M, N, K, rows, cols, dataflow):
    for name, v in (("M", M), ("N", N), ("K", K)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise WorkloadError(f"gemm: '{name}' must be a positive integer, not {v!r}")
    for name, v in (("rows", rows), ("cols", cols)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise SpecError([(name, f"must be a positive integer, not {v!r}")])
    if dataflow not in DATAFLOWS:
        raise SpecError([("dataflow", f"must be one of {', '.join(DATAFLOWS)}, not {dataflow!r}")])


def mapped_ranks(M: int, N: int, K: int, dataflow: str) -> tuple:
    """(size on array rows, size on array columns, streamed size T) for a dataflow."""
    return {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[dataflow]


def fold_cycles(rows: int, cols: int, t: int, dataflow: str) -> int:
    """Cycles of one fold on an ``rows x cols`` array streaming ``t`` vectors (module table)."""
    if dataflow == "os":
        return t + rows + cols - 2
    return t + 2 * rows + cols - 2


def gemm_folds(M: int, N: int, K: int, rows: int, cols: int, dataflow: str) -> int:
    """Number of folds: ceil(rank on rows / R) * ceil(rank on columns / C)."""
    _check_dims(M, N, K, rows, cols, dataflow)
    on_rows, on_cols, _ = mapped_ranks(M, N, K, dataflow)
    return math.ceil(on_rows / rows) * math.ceil(on_cols / cols)


def gemm_cycles(M: int, N: int, K: int, rows: int, cols: int, dataflow: str) -> int:
    """SCALE-Sim 3 "Total Cycles" (CALC mode) of an M x K by K x N GEMM: folds * per fold - 1."""
    _check_dims(M, N, K, rows, cols, dataflow)
    _, _, t = mapped_ranks(M, N, K, dataflow)
    return gemm_folds(M, N, K, rows, cols, dataflow) * fold_cycles(rows, cols, t, dataflow) - 1


def sram_accesses(M: int, N: int, K: int, rows: int, cols: int, dataflow: str) -> dict:
    """Word accesses of the three operand SRAMs, as SCALE-Sim's traces count them."""
    _check_dims(M, N, K, rows, cols, dataflow)
    c = math.ceil
    if dataflow == "os":
        return {"ifmap_reads": c(N / cols) * M * K, "filter_reads": c(M / rows) * K * N, "ofmap_writes": M * N}
    if dataflow == "ws":
        return {"ifmap_reads": c(N / cols) * M * K, "filter_reads": K * N, "ofmap_writes": c(K / rows) * M * N}
    return {"ifmap_reads": M * K, "filter_reads": c(M / cols) * K * N, "ofmap_writes": c(K / rows) * M * N}


def _fold_classes(on_rows, on_cols, rows, cols):
    """(count, used rows, used cols) of full and edge folds (at most four classes)."""
    out = []
    r_full, r_edge = divmod(on_rows, rows)
    c_full, c_edge = divmod(on_cols, cols)
    for nr, ur in ((r_full, rows), (1 if r_edge else 0, r_edge)):
        for nc, uc in ((c_full, cols), (1 if c_edge else 0, c_edge)):
            if nr and nc:
                out.append((nr * nc, ur, uc))
    return out


def _fold_actions(dataflow, ur, uc, t):
    """Per fold with ``ur`` rows and ``uc`` columns in use: MACs and word accesses per SRAM."""
    macs = ur * uc * t
    if dataflow == "os":   # rows: M, cols: N, T: K
        return macs, t * ur, t * uc, ur * uc
    if dataflow == "ws":   # rows: K, cols: N, T: M
        return macs, t * ur, ur * uc, t * uc
    return macs, ur * uc, t * ur, t * uc   # is: rows: K, cols: M, T: N


def _systolic_array(spec, unit: str | None, dataflow: str | None):
    """(the 2D compute unit, its dataflow) of a systolic spec; :class:`SpecError` naming the key
    when the spec cannot run a systolic GEMM."""
    if unit is None:
        units = spec.units_2d()
        if len(units) != 1:
            raise SpecError([("compute", f"a systolic GEMM needs exactly one 2D compute unit, the spec has {len(units)}")], spec.source)
        array = units[0]
    else:
        array = spec.unit(unit)
    df = dataflow or array.dataflow
    if df is None:
        raise SpecError([(f"compute.{array.name}.dataflow", f"must be one of {', '.join(DATAFLOWS)}, not None")], spec.source)
    if array.ndim != 2:
        raise SpecError([(f"compute.{array.name}.shape", "a systolic array must be 2D [rows, cols]")], spec.source)
    if not array.supports("mac"):
        raise SpecError([(f"compute.{array.name}.operators", "a systolic array needs the 'mac' operator")], spec.source)
    missing = [s for s in SRAMS if s not in spec.storage]
    if missing:
        raise SpecError([(f"storage.{s}", "missing storage level (a systolic spec needs ifmap_sram, filter_sram, ofmap_sram)") for s in missing], spec.source)
    return array, df


def _fold_costs(spec, array, df: str, ur: int, uc: int, t: int):
    """(MACs, actions, energy in pJ) of one fold using ``ur`` x ``uc`` PEs for ``t`` steps; SRAM
    accesses of each level's ``access_bytes``."""
    macs, ifr, flr, ofw = _fold_actions(df, ur, uc, t)
    word_bytes = spec.word_bits / 8
    actions, energy = action_cost(array, "mac", macs)
    for name, rd, wr in (("ifmap_sram", ifr, 0), ("filter_sram", flr, 0), ("ofmap_sram", 0, ofw)):
        book(actions, energy, storage_traffic(spec.storage[name], rd * word_bytes, wr * word_bytes))
    return macs, actions, energy


def lower_gemm(spec, M: int, N: int, K: int, unit: str | None = None, dataflow: str | None = None,
               dram_limited: bool = False) -> TaskGraph:
    """Lower an M x K by K x N GEMM on a spec's systolic array into a :class:`TaskGraph`.

    Parameters
    ----------
    spec : arch.spec.SpatialSpec
        Needs one 2D compute unit with a ``dataflow`` and a ``mac`` operator, and the storage
        levels ``ifmap_sram``, ``filter_sram``, ``ofmap_sram``.
    M, N, K : int
        GEMM ranks: ifmap M x K, filter K x N, ofmap M x N.
    unit : str, optional
        The compute unit (default: the spec's only 2D unit).
    dataflow : str, optional
        Overrides the unit's dataflow.
    dram_limited : bool
        False (default): SCALE-Sim's CALC mode, unlimited bandwidth, DRAM traffic costs energy
        but no cycles. True: every fold first loads its share of the compulsory traffic (in
        proportion to its MACs) over the spec's DRAM channel (unit ``dram``), double buffered
        with the folds; cycles then tend to bytes / bandwidth as the bandwidth shrinks and to
        the CALC figure as it grows (a roofline).

    Returns
    -------
    TaskGraph
        One phase per fold class (full and edge folds), each fold one task occupying the array
        for the fold's cycles, with its MACs and SRAM accesses; ``offset_cycles = -1`` is
        SCALE-Sim's count-from-zero convention. Energy in pJ from the spec.
    """
    array, df = _systolic_array(spec, unit, dataflow)
    R, C = array.rows, array.cols
    _check_dims(M, N, K, R, C, df)
    on_rows, on_cols, t = mapped_ranks(M, N, K, df)
    per_fold = fold_cycles(R, C, t, df)
    word_bytes = spec.word_bits / 8
    read_bytes = (M * K + K * N) * word_bytes  # compulsory: operands read once,
    write_bytes = M * N * word_bytes           # the output written once
    dram_pj = spec.dram.pj_per_byte
    bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
    total_macs = M * N * K
    phases = []
    for count, ur, uc in _fold_classes(on_rows, on_cols, R, C):
        macs, actions, energy = _fold_costs(spec, array, df, ur, uc, t)
        if not dram_limited:
            task = Task(name="fold", unit=array.name, cycles=per_fold, actions=actions, energy_pj=energy,
                        active_pe_cycles=float(macs))
            phases.append(Phase(name=f"folds_{ur}x{uc}", tasks=(task,), iterations=count))
            continue
        share = macs / total_macs
        rd, wr = read_bytes * share, write_bytes * share
        moved, moved_pj = dram_transfer(rd, wr, dram_pj)
        load = Task(name="load", unit="dram", cycles=transfer_cycles(rd + wr, bw), latency=spec.dram.latency_cycles,
                    deps=(Dep("fold", 2),), actions=moved, energy_pj=moved_pj)
        fold = Task(name="fold", unit=array.name, cycles=per_fold, deps=(Dep("load", 0),), actions=actions,
                    energy_pj=energy, active_pe_cycles=float(macs))
        phases.append(Phase(name=f"folds_{ur}x{uc}", tasks=(load, fold), iterations=count))
    if not dram_limited:
        # CALC mode: the compulsory traffic costs energy, not cycles.
        moved, moved_pj = dram_transfer(read_bytes, write_bytes, dram_pj)
        dram_task = Task(name="dram", unit=array.name, cycles=0, active_pe_cycles=0.0, actions=moved,
                         energy_pj=moved_pj)
        phases.append(Phase(name="dram_compulsory", tasks=(dram_task,), iterations=1))
    meta = {"M": M, "N": N, "K": K, "rows": R, "cols": C, "dataflow": df,
            "folds": math.ceil(on_rows / R) * math.ceil(on_cols / C), "fold_cycles": per_fold, "macs": M * N * K}
    units = {array.name: R * C, "dram": 1} if dram_limited else {array.name: R * C}
    return TaskGraph(phases=tuple(phases), units=units, clock_hz=spec.clock_hz,
                     offset_cycles=-1, meta=meta)
