"""SpGEMM as a cascade, Z[m,n] = A[m,k] * B[k,n], and its dataflows on sparse operands.

In hardware terms a SpGEMM dataflow is the loop order over the ranks M, K, N of the one Einsum,
which fixes what is intersected, what is merged and where partial products live:

- inner product (``m, n, k``: K innermost) intersects the fibre A[m,:] with B[:,n] for every
  (m, n) pair; no partial products, but every pair is visited;
- outer product (``k, m, n``: K outermost) multiplies column k of A with row k of B, producing
  partial-product matrices that a later merge phase reduces over k;
- row-wise / Gustavson (``m, k, n``: K in the middle) scales rows of B by the entries of row m
  of A and merges them into row m of Z, in an accumulator that may live in DRAM (sort-merge) or
  in scratchpad (hash tables, the SMASH family).

The cascade is parsed with :func:`mappings.parse`, so it is the same object every other
workload uses (rank names, ``op_counts`` for the dense case); the sparse kernels themselves run
in :mod:`sim.spgemm`.
"""

from __future__ import annotations

from dataclasses import dataclass

from arch.errors import WorkloadError
from mappings import parse

#: The SpGEMM Einsum.
EINSUM = "Z[m,n] = A[m,k] * B[k,n]"


def cascade():
    """The one-Einsum cascade of SpGEMM (a :class:`mappings.Cascade`)."""
    return parse(EINSUM, name="spgemm")


@dataclass(frozen=True)
class Dataflow:
    """One SpGEMM dataflow: its loop order, what each step does and where the merge happens.

    Attributes
    ----------
    kernel : str
        Kernel name in :data:`sim.spgemm.KERNELS`.
    loop_order : tuple of str
        Rank indices outermost first.
    intersect : str
        Which fibres are intersected (co-iterated) at the innermost loop.
    merge : str
        How partial products of one Z entry are reduced over k.
    accumulator : str
        Where the merge's state lives: "none", "dram", "scratchpad".
    """

    kernel: str
    loop_order: tuple
    intersect: str
    merge: str
    accumulator: str


DATAFLOWS = {
    "inner": Dataflow("inner", ("m", "n", "k"), "A[m,:] with B[:,n] (both sorted by k)",
                      "in registers, during the intersection", "none"),
    "outer": Dataflow("outer", ("k", "m", "n"), "none (A[:,k] times B[k,:], all pairs)",
                      "after all k: heap merge of each row's nnz(A[m,:]) sorted runs", "dram"),
    "rowwise-dram": Dataflow("rowwise-dram", ("m", "k", "n"), "none (A[m,k] scales B[k,:])",
                             "per row: partial products sorted by n in DRAM (radix), then compressed", "dram"),
    "smash-v1": Dataflow("smash-v1", ("m", "k", "n"), "none (A[m,k] scales B[k,:])",
                         "as generated: CAS claim + fetch-add into the row's hash table; static rows per thread", "scratchpad"),
    "smash-v2": Dataflow("smash-v2", ("m", "k", "n"), "none (A[m,k] scales B[k,:])",
                         "as v1; rows handed out as tokens from a shared queue", "scratchpad"),
    "smash-v3": Dataflow("smash-v3", ("m", "k", "n"), "none (A[m,k] scales B[k,:])",
                         "as v2; tables too large for a slice fragmented over every core's scratchpad", "scratchpad"),
}


def dataflow(kernel: str) -> Dataflow:
    """The :class:`Dataflow` of a kernel name; :class:`WorkloadError` lists the names."""
    if kernel not in DATAFLOWS:
        raise WorkloadError(f"'kernel' must be one of {', '.join(DATAFLOWS)}, not {kernel!r}")
    return DATAFLOWS[kernel]
