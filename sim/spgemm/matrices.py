"""Sparse matrix inputs for SpGEMM: Matrix Market files and seeded generators.

In hardware terms these are the operands a SpGEMM kernel streams from DRAM: compressed sparse
rows (CSR: a row-pointer array of 8-byte offsets, 4-byte column indices, 8-byte values). Every
loader returns a canonical ``scipy.sparse.csr_matrix`` of float64 with sorted, summed
(duplicate-free) column indices, which is what the kernels assume.

- :func:`load_mtx` reads a Matrix Market file itself, checking every line before a matrix is
  built (scipy's reader crashes on a NUL byte, reads a line with an extra field as another
  entry, and allocates a declared 10^8 x 10^8 array before looking at the entries), and turns
  every way it can fail into one :class:`WorkloadError` line naming the file.
- :func:`rmat` is the Graph500 R-MAT (recursive matrix) generator: each of ``edge_factor * 2**scale``
  edges descends ``scale`` levels of the adjacency matrix, choosing a quadrant with
  probabilities a, b, c, d (Graph500: a=0.57, b=c=0.19, d=0.05); vertex labels are then
  randomly permuted (as Graph500 does, so that hubs are not clustered at low indices) and
  duplicate edges merged. Values are uniform in [0, 1).
- :func:`uniform_random` draws ``nnz`` positions uniformly (Erdos-Renyi-like), values in [0, 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
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


#: Caps checked on a Matrix Market file's size line, before anything is allocated: a side of
#: at most 2^26 (as R-MAT's largest scale: the row pointers alone are then 512 MiB), at most
#: :data:`MAX_EDGES` stored entries, and at most :data:`MAX_DENSE` values in an ``array`` file.
MAX_DIM = 1 << MAX_SCALE
MAX_DENSE = 1 << 24
_MAX_LINE = 256          # bytes of one entry line (two indices and a 17-digit value need ~60)
_MAX_HEADER_LINE = 1 << 16
_FIELDS = ("real", "integer", "pattern", "complex")
_SYMMETRIES = ("general", "symmetric", "skew-symmetric", "hermitian")
_INT_RE = re.compile(rb"[0-9]{1,10}\Z")
_SIZE_RE = re.compile(rb"[0-9]{1,18}\Z")
_REAL_RE = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eEdD][+-]?[0-9]+)?\Z")
_SIGNED_RE = re.compile(rb"[+-]?[0-9]{1,18}\Z")


class _Malformed(Exception):
    """A reason a Matrix Market file is refused (turned into one WorkloadError line)."""


class _ComplexValues(Exception):
    """The file holds complex (or Hermitian) values, which the kernels do not model."""


def _header(fh):
    """(format, field, symmetry, sizes) from the banner and the size line; caps checked."""
    words = fh.readline(_MAX_HEADER_LINE).split()
    if len(words) != 5 or words[0].lower() != b"%%matrixmarket" or words[1].lower() != b"matrix":
        raise _Malformed("first line must be '%%MatrixMarket matrix <format> <field> <symmetry>'")
    fmt, fld, sym = (w.decode("ascii", "replace").lower() for w in words[2:])
    if fmt not in ("coordinate", "array"):
        raise _Malformed(f"format must be coordinate or array, not {fmt!r}")
    if fld not in _FIELDS or (fld == "pattern" and fmt == "array"):
        raise _Malformed(f"field must be real, integer or pattern (pattern with coordinate only), not {fld!r}")
    if sym not in _SYMMETRIES:
        raise _Malformed(f"symmetry must be one of {', '.join(_SYMMETRIES)}, not {sym!r}")
    if fld == "complex" or sym == "hermitian":
        raise _ComplexValues()
    line = fh.readline(_MAX_HEADER_LINE)
    while line.startswith(b"%") or (line.strip() == b"" and line):
        line = fh.readline(_MAX_HEADER_LINE)
    sizes = line.split()
    if len(sizes) != (3 if fmt == "coordinate" else 2) or not all(_SIZE_RE.match(t) for t in sizes):
        raise _Malformed(f"size line must be {'rows cols entries' if fmt == 'coordinate' else 'rows cols'} "
                         f"(non-negative integers), not {line[:80].decode('ascii', 'replace').strip()!r}")
    sizes = [int(t) for t in sizes]
    rows, cols = sizes[:2]
    if rows > MAX_DIM or cols > MAX_DIM:
        raise _Malformed(f"rows and cols must be at most {MAX_DIM}, not {rows}x{cols}")
    if sym != "general" and rows != cols:
        raise _Malformed(f"a {sym} matrix must be square, not {rows}x{cols}")
    if fmt == "array":
        if rows * cols > MAX_DENSE:
            raise _Malformed(f"an array (dense) matrix must hold at most {MAX_DENSE} values, not {rows}x{cols}")
        entries = rows * cols if sym == "general" else rows * (rows + (1 if sym == "symmetric" else -1)) // 2
    else:
        entries = sizes[2]
        room = rows * cols if sym == "general" else rows * (rows + (1 if sym == "symmetric" else -1)) // 2
        if entries > min(room, MAX_EDGES):
            raise _Malformed(f"entries must be at most {min(room, MAX_EDGES)} for {rows}x{cols} {sym}, not {entries}")
    return fmt, fld, sym, rows, cols, entries


def _body(fh, fmt, fld, entries):
    """The entry lines split into fields: a list of ``entries`` lists of bytes, checked."""
    limit = entries * _MAX_LINE + _MAX_LINE
    raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise _Malformed(f"more data than {entries} entries")
    if b"\0" in raw or not raw.isascii():
        raise _Malformed("file holds a NUL or non-ASCII byte")
    lines = [ln.split() for ln in raw.split(b"\n")]
    lines = [t for t in lines if t]
    if len(lines) != entries:
        raise _Malformed(f"size line declares {entries} entries, the file has {len(lines)}")
    nf = 1 if fmt == "array" else (2 if fld == "pattern" else 3)
    for i, t in enumerate(lines):
        if len(t) != nf:
            raise _Malformed(f"entry {i + 1} must have {nf} fields, not {len(t)} "
                             f"({b' '.join(t)[:60].decode('ascii')!r})")
    return lines


def _column(lines, j, regex, what):
    col = [t[j] for t in lines]
    for i, tok in enumerate(col):
        if not regex.match(tok):
            raise _Malformed(f"entry {i + 1}: {what} must be a number, not {tok[:30].decode('ascii')!r}")
    return col


def _coordinates(lines, fld, rows, cols):
    """Row and column indices (0-based int64) and values of a coordinate file, checked."""
    r = np.array(_column(lines, 0, _INT_RE, "row index"), dtype=np.int64) - 1
    c = np.array(_column(lines, 1, _INT_RE, "column index"), dtype=np.int64) - 1
    for name, idx, hi in (("row", r, rows), ("column", c, cols)):
        bad = np.flatnonzero((idx < 0) | (idx >= hi))
        if bad.size:
            raise _Malformed(f"entry {bad[0] + 1}: {name} index {idx[bad[0]] + 1} outside 1..{hi}")
    vals = np.ones(len(lines)) if fld == "pattern" else _values(lines, 2, fld)
    return r, c, vals


def _values(lines, j, fld):
    regex = _SIGNED_RE if fld == "integer" else _REAL_RE
    col = _column(lines, j, regex, "value")
    v = np.array([float(t.replace(b"d", b"e").replace(b"D", b"e")) for t in col])
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise _Malformed(f"entry {bad[0] + 1}: value must be finite, not {col[bad[0]].decode('ascii')!r}")
    return v


def _symmetric(r, c, v, sym):
    """Mirror the stored lower triangle of a symmetric or skew-symmetric matrix."""
    if sym == "general":
        return r, c, v
    bad = np.flatnonzero(r < c if sym == "symmetric" else r <= c)
    if bad.size:
        raise _Malformed(f"entry {bad[0] + 1}: a {sym} file stores the {'lower triangle' if sym == 'symmetric' else 'strict lower triangle'} "
                         f"only, not ({r[bad[0]] + 1}, {c[bad[0]] + 1})")
    off = r != c
    sign = -1.0 if sym == "skew-symmetric" else 1.0
    return np.concatenate([r, c[off]]), np.concatenate([c, r[off]]), np.concatenate([v, sign * v[off]])


def _array_positions(rows, cols, sym):
    """(row, col) of each stored value of an array file, column-major (lower part if symmetric)."""
    jj, ii = np.meshgrid(np.arange(cols), np.arange(rows), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    keep = np.ones(ii.size, bool) if sym == "general" else (ii >= jj if sym == "symmetric" else ii > jj)
    return ii[keep], jj[keep]


def load_mtx(path) -> sp.csr_matrix:
    """Read a Matrix Market file (coordinate or array; real, integer or pattern).

    The file is checked before any matrix is built: the banner, the size line against the caps
    (:data:`MAX_DIM`, :data:`MAX_EDGES`, :data:`MAX_DENSE`), then every entry line (ASCII,
    no NUL byte, exactly the fields its format has, indices in range, finite values, the lower
    triangle only when symmetric) and their count against the size line.

    Raises
    ------
    WorkloadError
        One line naming the file and what is wrong: missing file, bad banner or size line,
        an entry with too few or too many fields, an out-of-range index, a non-numeric or
        non-finite value, too few or too many entries, complex values, an empty matrix.
    """
    p = Path(path)
    try:
        if not p.is_file():
            raise WorkloadError(f"matrix file {str(p)!r} does not exist")
        with p.open("rb") as fh:
            fmt, fld, sym, rows, cols, entries = _header(fh)
            lines = _body(fh, fmt, fld, entries)
    except OSError as err:
        raise WorkloadError(f"{p}: cannot read matrix file ({err.strerror or err})") from None
    except _ComplexValues:
        raise WorkloadError(f"{p}: values must be real, integer or pattern, not complex") from None
    except _Malformed as err:
        raise WorkloadError(f"{p}: malformed Matrix Market file ({err})") from None
    try:
        if fmt == "coordinate":
            r, c, v = _coordinates(lines, fld, rows, cols)
        else:
            (r, c), v = _array_positions(rows, cols, sym), _values(lines, 0, fld)
        r, c, v = _symmetric(r, c, v, sym)
    except _Malformed as err:
        raise WorkloadError(f"{p}: malformed Matrix Market file ({err})") from None
    if rows == 0 or cols == 0:
        return canonical(sp.csr_matrix((rows, cols)), str(p))
    return canonical(sp.coo_matrix((v, (r, c)), shape=(rows, cols)), str(p))


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
    """``rows x cols`` matrix with exactly ``nnz`` distinct positions drawn uniformly
    (Erdos-Renyi-like), values uniform in [0, 1); ``nnz`` at most ``rows * cols``."""
    _check_int("uniform", rows, 1, 1 << 26)
    _check_int("cols", cols, 1, 1 << 26)
    _check_int("nnz", nnz, 1, min(MAX_EDGES, rows * cols))
    _check_int("seed", seed, 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    pos = _distinct_positions(rng, rows * cols, nnz)
    A = sp.csr_matrix((rng.random(nnz), (pos // cols, pos % cols)), shape=(rows, cols))
    return canonical(A, f"uniform({rows}x{cols}, nnz={nnz}, seed={seed})")


def _distinct_positions(rng, population: int, k: int):
    """``k`` distinct integers drawn uniformly from ``range(population)``: draw, merge, and
    draw again for the ones lost to repeats (each round expects to find twice the missing)."""
    got = np.unique(rng.integers(0, population, k))
    while got.size < k:
        missing = k - got.size
        draws = min(1 << 24, max(1024, 2 * missing * population // (population - got.size)))
        got = np.unique(np.concatenate([got, rng.integers(0, population, draws)]))
    return got if got.size == k else rng.permutation(got)[:k]
