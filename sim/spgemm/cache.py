"""A core's set-associative data cache, run on the address stream of the gathers of B's rows.

In hardware terms: when ``cache.gathers`` is on, a row-wise kernel reads the rows of B it needs
through its core's data cache instead of copying them into scratchpad by DMA. For every stored
``a_ik`` of a row of A, the thread touches the cache lines holding B's column indices
``B.indices[B.indptr[k]:B.indptr[k+1]]`` (4 bytes each) and then its values ``B.data[...]``
(8 bytes each); the two arrays live in separate, line-aligned regions. A hit costs nothing beyond
the instructions that read the data; a miss fetches a whole line from DRAM (``line_bytes``, the
over-fetch that PIUMA's 8-byte DMA avoids) and exposes a DRAM latency.

The cache has ``sets = size / (ways * line)`` sets of ``ways`` lines; a line's set is its line
number modulo ``sets``. Replacement is LRU (evict the line used longest ago) or FIFO (evict the
line filled longest ago). Each core's cache sees the rows the core runs, in row order; rows are
dealt to cores in contiguous blocks of equal count (threads of a core interleave their rows in
hardware, and dynamic phases pick the core at run time: this order is the model's assumption).

The loops below are plain Python over integer arrays, compiled with numba when it is installed.
:func:`run_lines` runs an explicit list of line numbers (the tests compare it with an independent
LRU); :func:`gather_hits` generates the gather stream from the CSR arrays without materialising it.
"""

from __future__ import annotations

import numpy as np

from sim.spgemm.rowhash import njit

#: Replacement policies and their codes in the compiled loops.
POLICIES = {"lru": 0, "fifo": 1}


def _access(tags, stamp, s, line, now, policy):
    """Access ``line`` in set ``s``; True on a hit. ``stamp`` is last use (LRU) or fill time (FIFO)."""
    ways = tags.shape[1]
    victim = 0
    for w in range(ways):
        if tags[s, w] == line:
            if policy == 0:
                stamp[s, w] = now
            return True
        if stamp[s, w] < stamp[s, victim]:
            victim = w
    tags[s, victim] = line
    stamp[s, victim] = now
    return False


def _run_lines(lines, sets, ways, policy):
    tags = np.full((sets, ways), -1, np.int64)
    stamp = np.full((sets, ways), -1, np.int64)
    hits = np.zeros(lines.size, np.bool_)
    for t in range(lines.size):
        hits[t] = _access(tags, stamp, lines[t] % sets, lines[t], t, policy)
    return hits


def _gather_hits(a_ptr, a_idx, b_ptr, core_first_row, line_bytes, data_base, sets, ways, policy,
                 hit_lines, miss_lines, miss_rows):
    """Per row of A: lines hit, lines missed, rows of B with at least one missed line."""
    ncores = core_first_row.size - 1
    for c in range(ncores):
        tags = np.full((sets, ways), -1, np.int64)
        stamp = np.full((sets, ways), -1, np.int64)
        now = 0
        for i in range(core_first_row[c], core_first_row[c + 1]):
            for jj in range(a_ptr[i], a_ptr[i + 1]):
                k = a_idx[jj]
                lo, hi = b_ptr[k], b_ptr[k + 1]
                if hi == lo:
                    continue
                missed = False
                for part in range(2):
                    base = 0 if part == 0 else data_base
                    width = 4 if part == 0 else 8
                    first = (base + lo * width) // line_bytes
                    last = (base + hi * width - 1) // line_bytes
                    for line in range(first, last + 1):
                        if _access(tags, stamp, line % sets, line, now, policy):
                            hit_lines[i] += 1
                        else:
                            miss_lines[i] += 1
                            missed = True
                        now += 1
                if missed:
                    miss_rows[i] += 1


if njit is not None:
    _access = njit(inline="always")(_access)
    _run_lines = njit(_run_lines)
    _gather_hits = njit(nogil=True)(_gather_hits)


def geometry(size_bytes: int, ways: int, line_bytes: int) -> int:
    """Sets of a cache of ``size_bytes`` with ``ways`` lines of ``line_bytes`` per set (at least 1)."""
    return max(1, size_bytes // (ways * line_bytes))


def run_lines(lines, size_bytes: int, ways: int, line_bytes: int, policy: str = "lru") -> np.ndarray:
    """Hit (True) or miss of each access to the line numbers ``lines``, from a cold cache."""
    lines = np.asarray(lines, dtype=np.int64)
    return _run_lines(lines, geometry(size_bytes, ways, line_bytes), ways, POLICIES[policy])


def gather_hits(A, B, cores: int, size_bytes: int, ways: int, line_bytes: int, policy: str = "lru"):
    """Per row of A: ``(hit lines, missed lines, rows of B with a miss)`` of the gathers of B's rows.

    Each of the ``cores`` caches starts cold and sees its block of consecutive rows of A.
    """
    m = A.shape[0]
    first = (np.arange(cores + 1, dtype=np.int64) * m) // cores
    data_base = -(-4 * B.nnz // line_bytes) * line_bytes          # values after indices, line-aligned
    out = [np.zeros(m, np.int64) for _ in range(3)]
    _gather_hits(A.indptr, A.indices, B.indptr, first, line_bytes, data_base,
                 geometry(size_bytes, ways, line_bytes), ways, POLICIES[policy], *out)
    return tuple(out)
