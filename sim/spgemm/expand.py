"""Row-wise (Gustavson) expansion of Z = A * B, merged through per-row hash tables.

In hardware terms this is the work every row-wise SpGEMM thread does: for row ``i`` of A and each
stored ``a_ik``, stream row ``k`` of B and produce the partial products ``a_ik * b_kj``; merge
them per output column ``j``. Here the merge is the SMASH one (see :mod:`sim.spgemm.hashing`):
each partial product probes the row's table until it finds or claims its column's slot, then
adds into it. This module runs that merge on the actual data, vectorised with numpy over chunks
of rows (never one Python step per partial product), and returns:

- the true product Z (CSR, columns sorted),
- per row: flops (multiplies), occupied slots (distinct columns), nnz(Z), table slots, and
  hash probes (CAS attempts, ``displacement + 1`` per partial product).

Compaction writes out only slots whose accumulated value is non-zero, as scipy's ``A @ B`` does
(its ``csr_matmat`` drops sums equal to 0.0): matrices that store explicit zeros (zenios) or whose
products cancel exactly (bcsstk13) then have fewer entries than occupied slots. The value of a
slot is accumulated in generation order, the same order scipy sums in, so values agree bit for
bit and the same entries cancel.

Insertion order within a row is generation order: ``k`` ascending along row ``i`` of A, then
``j`` along row ``k`` of B, which is the order one thread produces them in.

Every kernel of :mod:`sim.spgemm.kernels` reads its product and per-row counts from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from arch.errors import SimulationError
from sim.spgemm import rowhash
from sim.spgemm.hashing import first_writer, home_slot, place_linear, table_slots

#: Budgets of one chunk: partial products, table slots, and dense (row, col) key space.
CHUNK_FLOPS = 1 << 22
CHUNK_SLOTS = 1 << 23
CHUNK_KEYS = 1 << 24


@dataclass
class Expansion:
    """What the row-wise expansion of A * B did, row by row.

    Attributes
    ----------
    Z : scipy.sparse.csr_matrix or None
        The product (None when not kept).
    flops : int64 array (m,)
        Multiplies per row of Z.
    occupied : int64 array (m,)
        Distinct columns per row (slots claimed in the row's table).
    nnz : int64 array (m,)
        Stored entries per row of Z (occupied slots whose value is non-zero).
    slots : int64 array (m,)
        Hash-table slots per row (power of two, 0 for rows without partial products).
    probes : int64 array (m,)
        CAS probes per row (>= flops; probes - flops are collisions).
    max_probe : int
        Longest probe sequence of any partial product.
    """

    Z: sp.csr_matrix | None
    flops: np.ndarray
    occupied: np.ndarray
    nnz: np.ndarray
    slots: np.ndarray
    probes: np.ndarray
    max_probe: int

    @property
    def total_flops(self) -> int:
        return int(self.flops.sum())

    @property
    def total_nnz(self) -> int:
        return int(self.nnz.sum())

    @property
    def total_probes(self) -> int:
        return int(self.probes.sum())


def row_flops(A: sp.csr_matrix, B: sp.csr_matrix) -> np.ndarray:
    """Multiplies of each row of A * B: sum over stored a_ik of nnz(row k of B) (int64)."""
    bn = np.diff(B.indptr).astype(np.int64)
    c = np.concatenate([[0], np.cumsum(bn[A.indices])])
    return c[A.indptr[1:]] - c[A.indptr[:-1]]


def _chunks(flops: np.ndarray, slots: np.ndarray, ncols: int):
    """Row ranges [r0, r1) within the chunk budgets (a single row may exceed them)."""
    m = flops.size
    cf = np.concatenate([[0], np.cumsum(flops)])
    cs = np.concatenate([[0], np.cumsum(slots)])
    rows_max = max(1, CHUNK_KEYS // max(ncols, 1))
    r0 = 0
    while r0 < m:
        r1 = min(m, r0 + rows_max)
        r1 = min(r1, int(np.searchsorted(cf, cf[r0] + CHUNK_FLOPS, side="right")) - 1)
        r1 = min(r1, int(np.searchsorted(cs, cs[r0] + CHUNK_SLOTS, side="right")) - 1)
        r1 = max(r1, r0 + 1)
        yield r0, r1
        r0 = r1


def _all_sums_positive(A: sp.csr_matrix, B: sp.csr_matrix) -> bool:
    """True when every product a_ik * b_kj of stored values, and so every sum of them, is > 0."""
    if A.nnz == 0 or B.nnz == 0:
        return True
    amin, bmin = float(A.data.min()), float(B.data.min())
    return amin > 0.0 and bmin > 0.0 and amin * bmin > 0.0


def expand(A: sp.csr_matrix, B: sp.csr_matrix, keep_product: bool = True, compiled: bool | None = None) -> Expansion:
    """Multiply canonical CSR matrices A (m x k) and B (k x n) through per-row hash tables.

    Parameters
    ----------
    A, B : scipy.sparse.csr_matrix
        Canonical operands.
    keep_product : bool
        Build Z (otherwise only the per-row counts).
    compiled : bool, optional
        Use the compiled one-at-a-time merge (:mod:`sim.spgemm.rowhash`; default when numba is
        installed) or the vectorised numpy path (False). Both give the same result.

    Returns
    -------
    Expansion
        The product (if ``keep_product``) and the per-row counts.
    """
    m, n = A.shape[0], B.shape[1]
    flops = row_flops(A, B)
    slots = table_slots(np.minimum(flops, n))
    # Values decide nnz (exact-zero sums are dropped) and the product. When the product is not
    # kept and every stored value of A and B is positive with a positive smallest product, every
    # sum of partial products is positive: nnz equals occupied slots without computing a value.
    need_values = keep_product or not _all_sums_positive(A, B)
    if rowhash.AVAILABLE if compiled is None else compiled:
        occupied, nnz, probes, max_probe, z = rowhash.expand_rows(A, B, slots, need_values, keep_product)
        Z = sp.csr_matrix((z[2], z[1], z[0]), shape=(m, n)) if keep_product else None
        return Expansion(Z=Z, flops=flops, occupied=occupied, nnz=nnz, slots=slots, probes=probes,
                         max_probe=max_probe)
    return _expand_numpy(A, B, flops, slots, need_values, keep_product)


def _expand_numpy(A, B, flops, slots, need_values: bool, keep_product: bool) -> Expansion:
    """The vectorised merge: chunks of rows, every partial product of a chunk at once."""
    m, n = A.shape[0], B.shape[1]
    nnz = np.zeros(m, dtype=np.int64)
    occupied = np.zeros(m, dtype=np.int64)
    probes = np.zeros(m, dtype=np.int64)
    bnnz = np.diff(B.indptr).astype(np.int64)
    out_cols, out_vals = [], []
    max_probe = 0
    # chunk-local keys (row * n + col) and generation indices fit in 32 bits
    big = np.iinfo(np.int32).max
    rows_max = max(1, CHUNK_KEYS // max(n, 1))
    marker = np.full(min(rows_max * n, CHUNK_KEYS) if rows_max > 1 else n, big, dtype=np.int32)
    pdt = np.int32 if B.nnz < big else np.int64
    for r0, r1 in _chunks(flops, slots, n):
        total = int(flops[r0:r1].sum())
        if total == 0:
            continue
        if total >= big or (r1 - r0) * n >= big:
            raise SimulationError(f"row {r0} of the product has {total} partial products: "
                                  "'flops per row' must be below 2**31")
        a0, a1 = int(A.indptr[r0]), int(A.indptr[r1])
        ks = A.indices[a0:a1]
        blen = bnnz[ks]
        arow = np.repeat(np.arange(r1 - r0, dtype=np.int32) * np.int32(n), np.diff(A.indptr[r0:r1 + 1]))
        offs = np.cumsum(blen) - blen
        pos = np.arange(total, dtype=pdt) - np.repeat((offs - B.indptr[ks]).astype(pdt), blen)
        col = B.indices[pos]
        val = np.repeat(A.data[a0:a1], blen) * B.data[pos] if need_values else None
        key = np.repeat(arow, blen) + col
        if marker.size < (r1 - r0) * n:          # one huge row wider than the budget
            marker = np.full((r1 - r0) * n, big, dtype=np.int32)
        g = np.arange(total, dtype=np.int32)
        # first insertion of each (row, col): the smallest generation index with that key
        first_of = first_writer(marker, key, g)
        first = first_of == g
        tkeys = key[first]                        # distinct keys in order of first insertion
        U = tkeys.size
        marker[tkeys] = np.arange(U, dtype=np.int32)
        inv = marker[key]                          # insertion rank of each partial product's key
        if keep_product:
            # compaction and CSR write-out: occupied (row, col) keys in sorted order, straight
            # from the marker's key space, and the insertion rank holding each one's value
            skeys = np.flatnonzero(marker[: (r1 - r0) * n] != big)
            order = marker[skeys]
        marker[tkeys] = big
        mult = np.bincount(inv, minlength=U)
        # the fetch-and-add results; without them every sum is positive (see need_values)
        acc = np.bincount(inv, weights=val, minlength=U) if need_values else np.ones(U)
        tkeys = tkeys.astype(np.int64)
        trow = tkeys // n
        tcol = tkeys - trow * n
        rsize = slots[r0:r1]
        rbase = np.concatenate([[0], np.cumsum(rsize)[:-1]])
        size = rsize[trow]
        base = rbase[trow]
        home = base + home_slot(tcol, size)
        slot = place_linear(home, base, size)
        disp = (slot - home) & (size - 1)
        probes[r0:r1] = np.bincount(trow, weights=mult * (disp + 1), minlength=r1 - r0).astype(np.int64)
        occupied[r0:r1] = np.bincount(trow, minlength=r1 - r0)
        nz = acc != 0.0
        nnz[r0:r1] = np.bincount(trow[nz], minlength=r1 - r0)
        max_probe = max(max_probe, int(disp.max()) + 1)
        if keep_product:
            keep = nz[order]                       # compaction drops exact-zero sums
            out_cols.append((skeys[keep] % n).astype(np.int32))
            out_vals.append(acc[order[keep]])
    Z = None
    if keep_product:
        indptr = np.concatenate([[0], np.cumsum(nnz)])
        indices = np.concatenate(out_cols) if out_cols else np.zeros(0, np.int32)
        data = np.concatenate(out_vals) if out_vals else np.zeros(0)
        Z = sp.csr_matrix((data, indices, indptr), shape=(m, n))
    return Expansion(Z=Z, flops=flops, occupied=occupied, nnz=nnz, slots=slots, probes=probes, max_probe=max_probe)
