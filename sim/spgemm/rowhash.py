"""Row-wise hash merge of Z = A * B, one partial product at a time, compiled with numba.

In hardware terms this is exactly what one SMASH thread does for row ``i`` (see
:mod:`sim.spgemm.hashing` for the table): for each stored ``a_ik`` in order and each ``b_kj`` of
row ``k`` of B in order, probe the row's table linearly from the home slot
``(j * 107) & (size - 1)`` until the slot holding ``j`` or an empty slot (which it claims), and
add ``a_ik * b_kj`` into that slot; then compact the occupied slots (dropping exact-zero sums as
scipy's ``A @ B`` does), sort them by column and clear the table for the next row. Probes per
partial product are ``displacement + 1``.

Being sequential, this is the one-key-at-a-time rule itself: no parallel fixed point is needed,
and no array of partial products is ever materialised, so a product of 2.9e9 partial products
costs a few nanoseconds per partial product and memory for one table. :func:`expand_rows`
returns the same per-row counts (and product) as the vectorised numpy path of
:mod:`sim.spgemm.expand`, which is used when numba is not installed; the tests check that the
two agree with each other and with scipy.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:          # the numpy path of sim.spgemm.expand takes over
    njit = None

from sim.spgemm.hashing import HASH_MULT

#: True when the compiled merge is available.
AVAILABLE = njit is not None


def _merge_rows(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, slots, need_values, fill,
                z_ptr, z_idx, z_val, occupied, nnz, probes):
    """Merge every row through its table; per-row counts into the given arrays.

    With ``fill``, also write each row's non-zero entries, sorted by column, at ``z_ptr[i]`` of
    ``z_idx`` / ``z_val``. Returns the longest probe sequence.
    """
    m = slots.size
    top = 1
    for i in range(m):
        top = max(top, slots[i])
    keys = np.full(top, -1, np.int32)
    vals = np.zeros(top)
    used = np.empty(top, np.int32)
    max_probe = 0
    for i in range(m):
        size = slots[i]
        if size == 0:
            continue
        mask = size - 1
        nocc = 0
        pr = 0
        for jj in range(a_ptr[i], a_ptr[i + 1]):
            k = a_idx[jj]
            av = a_val[jj]
            for kk in range(b_ptr[k], b_ptr[k + 1]):
                c = np.int32(b_idx[kk])
                h = (c * HASH_MULT) & mask
                d = 1
                while True:
                    kc = keys[h]
                    if kc == c:
                        break
                    if kc == -1:
                        keys[h] = c
                        used[nocc] = h
                        nocc += 1
                        break
                    h = (h + 1) & mask
                    d += 1
                pr += d
                if d > max_probe:
                    max_probe = d
                if need_values:
                    vals[h] += av * b_val[kk]
        nz = 0
        out = z_ptr[i] if fill else 0
        for t in range(nocc):
            h = used[t]
            if not need_values or vals[h] != 0.0:
                if fill:
                    z_idx[out + nz] = keys[h]
                    z_val[out + nz] = vals[h]
                nz += 1
            keys[h] = -1
            vals[h] = 0.0
        if fill and nz > 1:
            seg = z_idx[out:out + nz].copy()
            order = np.argsort(seg, kind="mergesort")
            segv = z_val[out:out + nz].copy()
            for t in range(nz):
                z_idx[out + t] = seg[order[t]]
                z_val[out + t] = segv[order[t]]
        occupied[i] = nocc
        nnz[i] = nz
        probes[i] = pr
    return max_probe


_compiled = njit(nogil=True, cache=True)(_merge_rows) if AVAILABLE else None


def expand_rows(A, B, slots: np.ndarray, need_values: bool, keep_product: bool):
    """Per-row ``(occupied, nnz, probes)``, the longest probe and ``(indptr, indices, data)`` of Z.

    Parameters
    ----------
    A, B : scipy.sparse.csr_matrix
        Canonical operands.
    slots : int64 array (m,)
        Table slots of each row (a power of two, 0 for rows without partial products).
    need_values : bool
        Accumulate values (to drop exact-zero sums); when False every occupied slot counts.
    keep_product : bool
        Also build Z (a second pass writes the entries once the row counts are known).
    """
    m = A.shape[0]
    occupied = np.zeros(m, np.int64)
    nnz = np.zeros(m, np.int64)
    probes = np.zeros(m, np.int64)
    none_i, none_v = np.zeros(0, np.int32), np.zeros(0)
    args = (A.indptr, A.indices, A.data, B.indptr, B.indices, B.data, slots.astype(np.int64))
    max_probe = _compiled(*args, need_values or keep_product, False, np.zeros(1, np.int64), none_i, none_v,
                          occupied, nnz, probes)
    product = None
    if keep_product:
        indptr = np.concatenate([[0], np.cumsum(nnz)]).astype(np.int64)
        indices = np.empty(int(indptr[-1]), np.int32)
        data = np.empty(int(indptr[-1]))
        _compiled(*args, True, True, indptr, indices, data, np.zeros(m, np.int64), np.zeros(m, np.int64),
                  np.zeros(m, np.int64))
        product = (indptr, indices, data)
    return occupied, nnz, probes, int(max_probe), product
