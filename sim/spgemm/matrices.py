"""Sparse matrix inputs for SpGEMM: Matrix Market files and seeded generators.

In hardware terms these are the operands a SpGEMM kernel streams from DRAM: compressed sparse
rows (CSR: a row-pointer array of 8-byte offsets, 4-byte column indices, 8-byte values). Every
loader returns a canonical ``scipy.sparse.csr_matrix`` of float64 with sorted, summed
(duplicate-free) column indices, which is what the kernels assume.

- :func:`load_mtx` reads a Matrix Market file with ``scipy.io.mmread`` and turns every way it
  can fail into one :class:`WorkloadError` line naming the file.
- :func:`rmat` is the Graph500 R-MAT (recursive matrix) generator: each of ``edge_factor * 2**scale``
  edges descends ``scale`` levels of the adjacency matrix, choosing a quadrant with
  probabilities a, b, c, d (Graph500: a=0.57, b=c=0.19, d=0.05); vertex labels are then
  randomly permuted (as Graph500 does, so that hubs are not clustered at low indices) and
  duplicate edges merged. Values are uniform in [0, 1).
- :func:`uniform_random` draws ``nnz`` positions uniformly (Erdos-Renyi-like), values in [0, 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from arch.errors import WorkloadError

#: Graph500 R-MAT quadrant probabilities (Graph500 specification, Kronecker generator).
GRAPH500_ABCD = (0.57, 0.19, 0.19, 0.05)
MAX_SCALE = 26          # 64 M vertices: beyond it the arrays alone outgrow a workstation
MAX_EDGES = 1 << 28


def canonical(m, what: str = "matrix") -> sp.csr_matrix:
    """CSR float64 with sorted, duplicate-free indices; :class:`WorkloadError` if empty or complex."""
    if np.iscomplexobj(m.data if sp.issparse(m) else m):
        raise WorkloadError(f"{what}: values must be real, integer or pattern, not complex")
    A = sp.csr_matrix(m, dtype=np.float64)
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise WorkloadError(f"{what}: matrix must have at least one row and one column, not shape {A.shape[0]}x{A.shape[1]}")
    A.sum_duplicates()
    A.sort_indices()
    if A.nnz == 0:
        raise WorkloadError(f"{what}: matrix must hold at least one stored entry, not an empty matrix ({A.shape[0]}x{A.shape[1]}, 0 entries)")
    if A.indices.dtype != np.int32:
        A.indices = A.indices.astype(np.int32)
        A.indptr = A.indptr.astype(np.int64)
    return A


def load_mtx(path) -> sp.csr_matrix:
    """Read a Matrix Market file (coordinate or array; real, integer or pattern).

    Raises
    ------
    WorkloadError
        One line naming the file: missing file, wrong header, out-of-range index,
        non-numeric field, truncated file, complex values, empty matrix.
    """
    p = Path(path)
    if not p.is_file():
        raise WorkloadError(f"matrix file {str(p)!r} does not exist")
    try:
        m = scipy.io.mmread(str(p))
    except (ValueError, OSError, IndexError, TypeError, OverflowError, UnicodeDecodeError) as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise WorkloadError(f"{p}: malformed Matrix Market file ({msg})") from None
    return canonical(m, str(p))


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise WorkloadError(f"'{name}' must be an integer in [{lo}, {hi}], not {value!r}")


def rmat(scale: int, edge_factor: int = 16, seed: int = 1, abcd=GRAPH500_ABCD) -> sp.csr_matrix:
    """Graph500 R-MAT adjacency matrix of ``2**scale`` vertices, ``edge_factor * 2**scale`` edges.

    Parameters
    ----------
    scale : int
        log2 of the number of vertices, 1..26.
    edge_factor : int
        Edges drawn per vertex (before merging duplicates), 1..1024.
    seed : int
        Seed of numpy's PCG64 generator; equal seeds give identical matrices.
    abcd : tuple of 4 floats
        Quadrant probabilities, each in [0, 1], summing to 1.

    Returns
    -------
    scipy.sparse.csr_matrix
        Square, float64 values uniform in [0, 1) (duplicate edges summed).
    """
    _check_int("rmat", scale, 1, MAX_SCALE)
    _check_int("edge_factor", edge_factor, 1, 1024)
    _check_int("seed", seed, 0, 2**63 - 1)
    a, b, c, d = (float(x) for x in abcd)
    if min(a, b, c, d) < 0 or abs(a + b + c + d - 1.0) > 1e-9:
        raise WorkloadError(f"'a, b, c, d' must be non-negative and sum to 1, not {a}, {b}, {c}, {d}")
    n = 1 << scale
    m = edge_factor * n
    if m > MAX_EDGES:
        raise WorkloadError(f"'edge_factor * 2**rmat' must be at most {MAX_EDGES} edges, not {m}")
    rng = np.random.default_rng(seed)
    rows = np.zeros(m, dtype=np.int64)
    cols = np.zeros(m, dtype=np.int64)
    for level in range(scale):
        u = rng.random(m)
        down = u >= a + b                     # quadrants c, d: lower half
        right = ((u >= a) & (u < a + b)) | (u >= a + b + c)   # quadrants b, d: right half
        rows |= down.astype(np.int64) << level
        cols |= right.astype(np.int64) << level
    perm = rng.permutation(n)
    vals = rng.random(m)
    A = sp.csr_matrix((vals, (perm[rows], perm[cols])), shape=(n, n))
    return canonical(A, f"rmat(scale={scale}, edge_factor={edge_factor}, seed={seed})")


def uniform_random(rows: int, cols: int, nnz: int, seed: int = 1) -> sp.csr_matrix:
    """``rows x cols`` matrix with ``nnz`` uniformly random positions (duplicates merged)."""
    _check_int("uniform", rows, 1, 1 << 26)
    _check_int("cols", cols, 1, 1 << 26)
    _check_int("nnz", nnz, 1, MAX_EDGES)
    _check_int("seed", seed, 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    r = rng.integers(0, rows, nnz)
    c = rng.integers(0, cols, nnz)
    A = sp.csr_matrix((rng.random(nnz), (r, c)), shape=(rows, cols))
    return canonical(A, f"uniform({rows}x{cols}, nnz={nnz}, seed={seed})")
