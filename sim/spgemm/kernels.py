"""The six SpGEMM kernels as task phases for the PIUMA-like machine.

Each kernel turns the measured work of Z = A * B (per-row flops, distinct columns, nnz, hash
probes from :mod:`sim.spgemm.expand`; per-column counts of A and per-row counts of B) into
row-, column- or token-level tasks with their demands, as pool phases of the shared task
graph (:func:`sim.spgemm.lower.pool_phase`). The
software costs below are assumptions about straightforward PIUMA code, the same for every
kernel, stated once:

========================  ==================================================================
``INSTR_PARTIAL`` = 7     per partial product: load column, load value, multiply, two hash
                          operations (multiply by 107, mask), issue fetch-add, loop branch
``INSTR_PROBE`` = 3       per probe: load the slot's key word, compare, branch
``INSTR_STREAM`` = 3      per element streamed or copied: load, store, loop
``INSTR_STEP`` = 4        per merge / intersection / sort step: compare, select, advance, loop
``INSTR_ROW`` = 20        per row or task: pointers, bounds, table base, bookkeeping
``TOKEN_FLOPS`` = 4096    partial products per work token (dynamic distribution), lowered to
                          total flops / (4 * threads) for small problems so that every thread
                          gets about four tokens (two per wave for smash-v3's large rows)
========================  ==================================================================

A probe reads the slot's key word; only an empty slot is claimed with a compare-and-swap (one
per distinct column of the row, as the sequential insertion order has no races), and every
partial product ends with one fetch-add: atomics = occupied slots + partial products. The winner
of a CAS also appends the slot to the row's occupancy list (one scratchpad write), so compaction
and the clearing of the table for the next row touch only occupied slots, never the whole table
(tables are cleared once when the kernel starts).

Data moves between DRAM and scratchpad by DMA in whole rows, bandwidth booked on the DRAM
channel. A thread issues the gathers of the rows of B that one row of A (or one merge's runs)
needs together, and the DMA engine keeps ``spec.dma_requests_in_flight`` of them in flight, so
``n`` gathers expose ``ceil(n / in_flight)`` DRAM latencies (:func:`gather_latency`); single DMAs
(A's row, the output row) expose one each; hash-table atomics in DRAM are single 8-byte
read-modify-writes, each exposing a DRAM latency when the thread needs the result (CAS), none
when it does not (fetch-add is posted). CSR arrays: 4-byte column indices, 8-byte values,
8-byte row pointers, each array rounded up to the 8-byte access granularity.

Kernels (each a shipped mapping file, ``mappings/shipped/NAME.yaml``, whose loop order, merge,
distribution and fragmentation :func:`phases_for` reads; each documented in docs/spgemm.md):

``inner``        inner product, Z[i,j] = A[i,:] . B[:,j]: B (CSC) staged once into the pooled
                 scratchpads, each row of A intersected with every non-empty column of B by a
                 merge that reads both fibres (``a_i + b_j`` steps per pair).
``outer``        outer product (OuterSPACE-like): multiply phase, column k of A times row k of B,
                 partial products appended to per-row DRAM buckets (one fetch-add per (i, k));
                 merge phase, each row's ``nnz(A_i)`` sorted runs merged with a heap in
                 scratchpad (``log2`` runs steps per partial product; extra DRAM passes when the
                 run buffers exceed a thread's slice).
``rowwise-dram`` row-wise Gustavson with a DRAM-resident sort-merge accumulator (expand, sort,
                 compress): a row's partial products are written to DRAM, radix-sorted there
                 (8-bit digits) and compressed.
``smash-v1``     row-wise with atomic hashing in scratchpad: each thread owns an equal count of
                 consecutive rows (static), merges each row into a hash table in its slice of the
                 scratchpad (CAS claim + fetch-add), compacts, sorts and writes it out; a row
                 whose table exceeds the slice falls back to a table in DRAM.
``smash-v2``     v1 + tokenized work distribution: consecutive rows are cut into tokens of about
                 ``TOKEN_FLOPS`` partial products taken from a shared queue.
``smash-v3``     v2 + fragmented tables: a row whose table exceeds a slice gets a table spread
                 over every core's scratchpad (the slot's position picks the core), its partial
                 products cut into tokens that any thread takes. Large rows run in waves that
                 fill half the pooled table area; one wave's fragments are compacted in parallel
                 (unsorted, into the row's staging place) while the next wave's tokens run, and
                 the CSR assembly sorts those rows. A table larger than half the pool spills to
                 DRAM as in v1.

All kernels end with the same CSR assembly phase: a prefix sum over row counts and a copy of
the rows from their staging places (upper-bound offsets) into the final CSR arrays.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mappings.spgemm import SpgemmPlan
from sim.spgemm.cache import gather_hits
from sim.spgemm.expand import Expansion
from sim.spgemm.hashing import SLOT_BYTES
from sim.pool import PoolPhase
from sim.spgemm.lower import pool_phase, thread_layout


INSTR_PARTIAL = 7
INSTR_PROBE = 3
INSTR_STREAM = 3
INSTR_STEP = 4
INSTR_ROW = 20
TOKEN_FLOPS = 4096
RUN_BUFFER_BYTES = 128    # outer merge: a double-buffered 64-byte window per sorted run
RADIX_BITS = 8            # rowwise-dram: digits of the radix sort


def csr_bytes(n):
    """DRAM bytes of ``n`` CSR entries: 4-byte indices and 8-byte values, 8-byte rounded."""
    n = np.asarray(n, dtype=np.float64)
    return 8.0 * np.ceil(4.0 * n / 8.0) + 8.0 * n


def gather_latency(n, spec):
    """Cycles a thread waits for ``n`` DMA gathers issued together, ``dma_requests_in_flight`` at a time.

    Each wave of requests in flight exposes one DRAM latency (cycles); bandwidth is booked on the
    DRAM channel separately. ``dma_requests_in_flight = 1`` is one full latency per gather.
    """
    n = np.asarray(n, dtype=np.float64)
    return np.ceil(n / spec.dma_requests_in_flight) * spec.dram_latency_cycles


def _log2c(x):
    return np.ceil(np.log2(np.maximum(np.asarray(x, dtype=np.float64), 2.0)))


def sort_cost(z, ncols: int):
    """(instructions, scratchpad accesses) to sort ``z`` column indices of one row in scratchpad.

    The cheaper of a comparison sort (``z * log2 z`` steps of ``INSTR_STEP``) and an LSD radix
    sort with ``RADIX_BITS`` digits (per pass: histogram and scatter, 6 instructions and 3
    accesses per entry, plus clearing the 256 counters), the sort rowwise-dram uses in DRAM.
    """
    z = np.asarray(z, dtype=np.float64)
    passes = max(1, int(np.ceil(np.log2(max(ncols, 2)) / RADIX_BITS)))
    steps = z * _log2c(z)
    radix_instr = passes * (6 * z + (1 << RADIX_BITS))
    use_radix = radix_instr < INSTR_STEP * steps
    instr = np.where(use_radix, radix_instr, INSTR_STEP * steps)
    spad = np.where(use_radix, passes * (3 * z + (1 << RADIX_BITS)), 2 * steps)
    return instr, spad


class Work:
    """The data-dependent counts every kernel draws on."""

    def __init__(self, A: sp.csr_matrix, B: sp.csr_matrix, e: Expansion):
        self.A, self.B = A, B
        self.m, self.n = A.shape[0], B.shape[1]
        self.e = e
        self.an = np.diff(A.indptr).astype(np.float64)
        self.bn = np.diff(B.indptr).astype(np.float64)
        self.f = e.flops.astype(np.float64)
        self.z = e.nnz.astype(np.float64)
        self.occ = e.occupied.astype(np.float64)
        self.slots = e.slots.astype(np.float64)
        self.p = e.probes.astype(np.float64)
        per_a = csr_bytes(self.bn[A.indices]) + 16.0          # B row (+ its two row pointers)
        c = np.concatenate([[0.0], np.cumsum(per_a)])
        self.gather = c[A.indptr[1:]] - c[A.indptr[:-1]]     # B bytes gathered by each row
        self.a_bytes = csr_bytes(self.an) + 16.0
        self.acol = np.bincount(A.indices, minlength=A.shape[1]).astype(np.float64)
        self.nnzA, self.nnzB = float(A.nnz), float(B.nnz)
        self.b_cols_nonempty = float(np.count_nonzero(np.bincount(B.indices, minlength=B.shape[1])))


class Gathers:
    """How each row of A fetches the rows of B it scales: by DMA into scratchpad, or through the cache.

    Attributes (per row of A)
    -------------------------
    dram_bytes : float array
        DRAM bytes of the gathers (exact CSR bytes by DMA; missed lines, whole, through the cache,
        plus B's row pointers).
    spad : float array
        8-byte scratchpad writes that stage the gathered rows (none through the cache).
    waits : float array
        Gathers that wait for DRAM (every row of B by DMA; rows of B with a missed line through
        the cache), ``spec.dma_requests_in_flight`` at a time (:func:`gather_latency`).
    counts : dict
        ``cache_hits`` and ``cache_misses`` (lines) when the cache is used.
    """

    def __init__(self, w: Work, spec):
        if not spec.cache_gathers:
            self.dram_bytes, self.spad, self.waits, self.counts = w.gather, w.gather / 8, w.an, {}
            return
        hit, miss, miss_rows = gather_hits(w.A, w.B, spec.cores, spec.cache_bytes_per_core, spec.cache_ways,
                                           spec.cache_line_bytes, spec.cache_policy)
        self.dram_bytes = miss * float(spec.cache_line_bytes) + 16.0 * w.an
        self.spad = np.zeros(w.m)
        self.waits = miss_rows.astype(np.float64)
        h, mi = int(hit.sum()), int(miss.sum())
        self.counts = {"cache_hits": h, "cache_misses": mi, "cache_hit_rate": h / (h + mi) if h + mi else 0.0}


def assembly(w: Work, spec, sort_instr=None) -> PoolPhase:
    """CSR assembly: prefix sum of row counts, then copy rows from staging to the final arrays.

    ``sort_instr`` (per row) adds sorting rows that were staged unsorted (smash-v3).
    """
    T = spec.threads
    work = 2 + 3 * w.z + (0 if sort_instr is None else sort_instr)
    cuts = np.searchsorted(np.cumsum(work), np.sum(work) * np.arange(1, T) / T)
    per = [r for r in np.split(np.arange(w.m), np.unique(cuts)) if r.size]   # equal-work blocks
    z = np.array([w.z[r].sum() for r in per])
    rows = np.array([len(r) for r in per], dtype=np.float64)
    extra = np.zeros(len(per)) if sort_instr is None else np.array([sort_instr[r].sum() for r in per])
    L = spec.dram_latency_cycles
    instr = INSTR_ROW + 2 * rows + INSTR_STREAM * z + extra
    return pool_phase(spec, "assembly", instr=instr, spad=2 * rows + 3 * z + extra / 2,
                   dram_bytes=16 * rows + 2 * csr_bytes(z), latency=instr + 3 * L,
                   owner=np.arange(len(per)))


def _row_tokens(w: Work, rows: np.ndarray, token_flops: int):
    """Group consecutive rows into tokens of about ``token_flops`` partial products."""
    if rows.size == 0:
        return []
    c = np.cumsum(w.f[rows])
    cut = np.floor((c - 1e-9) / token_flops).astype(np.int64)
    edges = np.flatnonzero(np.diff(cut)) + 1
    return np.split(rows, edges)


def _smash_row_costs(w: Work, spec, g: Gathers, rows: np.ndarray, in_dram: np.ndarray) -> tuple[dict, np.ndarray]:
    """Per-row demands of the SMASH row body, table in the thread's slice or (in_dram) in DRAM.

    Returns the demands, whose latency leaves out the DMAs, and the DMAs' latency of each row
    on its own (A's row, B's rows, the output row).
    """
    L, Ls, La = spec.dram_latency_cycles, spec.spad_latency_cycles, spec.atomic_latency_cycles
    an, f, p, z, occ, T = (x[rows] for x in (w.an, w.f, w.p, w.z, w.occ, w.slots))
    sort_instr, sort_spad = sort_cost(z, w.n)
    instr = (INSTR_ROW + INSTR_STREAM * an + INSTR_PARTIAL * f + INSTR_PROBE * p
             + 2 * occ + 5 * occ + sort_instr + INSTR_STREAM * z)
    staging = g.spad[rows] + 2 * f + 2 * an
    # probes read keys; CAS and fetch-add are read-modify-writes; occupancy list write;
    # compaction reads list, key and value, clears the key; compacted entries written (2 words)
    spad_tab = p + 2 * (occ + f) + occ + 4 * occ + 2 * occ
    sort = sort_spad + 2 * z
    dram = w.a_bytes[rows] + g.dram_bytes[rows] + csr_bytes(z)
    dma_lat = 2 * L + gather_latency(g.waits[rows], spec)
    table_lat = np.where(in_dram, p * L + occ * (L + La) + 2 * L, p * Ls + occ * La + f * Ls)
    spad = staging + sort + np.where(in_dram, 0.0, spad_tab)
    dram = dram + np.where(in_dram, 8 * p + 16 * (occ + f) + 8 * occ + 24 * occ, 0.0)
    return dict(instr=instr, spad=spad, atom=occ + f, dram_bytes=dram, latency=instr + table_lat, flops=f), dma_lat


def windows(table_bytes, slice_bytes: int, max_rows: int | None = None) -> np.ndarray:
    """Window of each row: consecutive rows whose tables together fit one thread's slice.

    SMASH V1 (arXiv 2105.14156): a window is the group of output rows a thread merges in its
    scratchpad slice at once. Greedy in row order: a row opens a new window when its table no
    longer fits beside the current window's, or when the window already holds ``max_rows`` rows
    (the kernel passes ``ceil(rows / threads)``, so that a small product still reaches every
    thread); a row whose table alone exceeds the slice is a window of its own (its table goes to
    DRAM). Returns an int64 array of window indices.
    """
    cap = len(table_bytes) if max_rows is None else max(1, int(max_rows))
    out = np.empty(len(table_bytes), np.int64)
    wid, used, count = -1, slice_bytes + 1, cap
    for i, b in enumerate(np.asarray(table_bytes, dtype=np.float64).tolist()):
        if used + b > slice_bytes or count >= cap:
            wid, used, count = wid + 1, 0.0, 0
        used += b
        count += 1
        out[i] = wid
    return out


def _sum_by_token(cost: dict, tokens) -> dict:
    """Sum per-row costs (aligned with the concatenation of ``tokens``) into per-token costs."""
    lens = np.array([len(t) for t in tokens], dtype=np.int64)
    idx = np.repeat(np.arange(len(tokens)), lens)
    return {k: np.bincount(idx, weights=v, minlength=len(tokens)) for k, v in cost.items()}


def token_flops(w: Work, spec) -> int:
    """Partial products per token: TOKEN_FLOPS, or fewer so that each thread gets about four."""
    return int(max(1, min(TOKEN_FLOPS, w.f.sum() // (4 * spec.threads))))


def smash(w: Work, spec, tokens: bool, fragment: bool) -> tuple[list, dict]:
    """Task phases of a hash merge (smash-v1: static; v2: ``tokens``; v3: ``tokens`` and
    ``fragment``) and the counts that explain them."""
    slice_bytes = spec.table_bytes_per_thread
    pool_bytes = slice_bytes * spec.threads / 2      # a wave's share of the pooled table area
    tbytes = w.slots * SLOT_BYTES
    rows = np.flatnonzero(w.f > 0)
    fits = tbytes[rows] <= slice_bytes
    if not fragment:
        small, big = rows, np.zeros(0, np.int64)
        in_dram = ~fits
    else:
        small = rows[fits | (tbytes[rows] > pool_bytes)]
        big = rows[~fits & (tbytes[rows] <= pool_bytes)]
        in_dram = tbytes[small] > slice_bytes
    g = Gathers(w, spec)
    cost, dma_lat = _smash_row_costs(w, spec, g, small, in_dram)
    phases = []
    counts = {}
    if not tokens and spec.smash_windows:
        # one DMA batch per window: A's rows, B's rows (in flight together), the output rows
        win = windows(tbytes[small], slice_bytes, -(-small.size // spec.threads))
        nwin = int(win[-1]) + 1 if win.size else 0
        tot = {k: np.bincount(win, weights=v, minlength=nwin) for k, v in cost.items()}
        waits = np.bincount(win, weights=g.waits[small], minlength=nwin)
        tot["latency"] = tot["latency"] + 2 * spec.dram_latency_cycles + gather_latency(waits, spec)
        # handed out in turn, in the machine's interleaved order over cores and pipelines
        order = thread_layout(spec)[2]
        phases.append(pool_phase(spec, "windows", owner=order[np.arange(nwin) % spec.threads], **tot))
        counts["windows"] = nwin
    elif not tokens:
        owner = np.minimum((small * spec.threads) // max(w.m, 1), spec.threads - 1)
        phases.append(pool_phase(spec, "rows", owner=owner, **dict(cost, latency=cost["latency"] + dma_lat)))
    else:
        tokens = _row_tokens(w, small, token_flops(w, spec))
        tok = _sum_by_token(dict(cost, latency=cost["latency"] + dma_lat), tokens)
        phases.append(pool_phase(spec, "row tokens", **tok))
    counts.update({"rows_in_dram_table": int(in_dram.sum()), "rows_fragmented": int(big.size),
                   "table_slice_bytes": int(slice_bytes)}, **g.counts)
    if big.size:
        frag, sort_instr = _fragmented(w, spec, g, big)
        phases += frag
        counts["assembly_sort_instr"] = sort_instr
    return phases, counts


def _fragmented(w: Work, spec, g: Gathers, big: np.ndarray) -> tuple[list, np.ndarray]:
    """smash-v3 waves: tokens of rows whose tables are fragmented over every core's scratchpad.

    Rows go in waves whose tables fill half the pooled table area, so that one wave's tables are
    compacted (each fragment by one thread: scan the occupancy list, write its entries to the
    row's staging place in DRAM) while the next wave's tokens fill the other half. The CSR
    assembly sorts each such row while copying it. Returns the phases and, per row, the sort
    instructions this adds to the assembly.
    """
    C = spec.cores
    L, Ls, La, Ln = spec.dram_latency_cycles, spec.spad_latency_cycles, spec.atomic_latency_cycles, spec.net_latency_cycles
    remote = (C - 1) / C
    slice_bytes = spec.table_bytes_per_thread
    half_pool = slice_bytes * spec.threads / 2
    tb = w.slots[big] * SLOT_BYTES
    wave = np.floor_divide(np.cumsum(tb) - 1e-9, half_pool).astype(np.int64)
    nfrag_all = np.maximum(1, np.ceil(w.slots * SLOT_BYTES / slice_bytes))
    sort_instr = np.zeros(w.m)
    sort_instr[big] = sort_cost(w.z[big], w.n)[0]
    phases, pending = [], None
    for wv in np.unique(wave):
        rows = big[wave == wv]
        # tokens small enough that the wave gives every thread about two
        tf = max(1.0, min(token_flops(w, spec), w.f[rows].sum() / (2 * spec.threads)))
        ntok = np.maximum(1, np.ceil(w.f[rows] / tf)).astype(np.int64)
        r = np.repeat(rows, ntok)
        share = 1.0 / np.repeat(ntok, ntok)
        an, f, p, occ = w.an[r] * share, w.f[r] * share, w.p[r] * share, w.occ[r] * share
        instr = INSTR_ROW + INSTR_STREAM * an + INSTR_PARTIAL * f + INSTR_PROBE * p + 2 * occ
        lat = instr + L + gather_latency(g.waits[r] * share, spec) + f * Ls + p * (Ls + remote * Ln) + occ * La
        tokens = dict(instr=instr, spad=g.spad[r] * share + 2 * f + 2 * an, atom=0 * f, atom_all=occ + f,
                      spad_all=p + 3 * occ + 2 * f, dram_bytes=(w.a_bytes[r] + g.dram_bytes[r]) * share,
                      net_bytes=remote * 16 * (p + occ + f), latency=lat, flops=f)
        if pending is not None:                      # the previous wave's compaction goes first
            tokens = {k: np.concatenate([pending[k], tokens[k]]) for k in tokens}
        phases.append(pool_phase(spec, f"fragment tokens wave {wv}", group="fragment tokens", **tokens))
        # compaction of each fragment (a thread's slice of the table), with the next wave
        nfrag = nfrag_all[rows].astype(np.int64)
        rr = np.repeat(rows, nfrag)
        fs = 1.0 / np.repeat(nfrag, nfrag)
        occ, z = w.occ[rr] * fs, w.z[rr] * fs
        instr = INSTR_ROW + 7 * occ + INSTR_STREAM * z
        pending = dict(instr=instr, spad=2 * z, atom=0 * z, atom_all=0 * z, spad_all=7 * occ,
                       dram_bytes=csr_bytes(z), net_bytes=remote * 8 * 4 * occ,
                       latency=instr + Ln + L, flops=0 * z)
    phases.append(pool_phase(spec, "fragment compaction", **pending))
    return phases, sort_instr


def inner(w: Work, spec) -> tuple[list, dict]:
    """Inner product: every non-empty row of A against every non-empty column of B."""
    C = spec.cores
    L, Ls, Ln = spec.dram_latency_cycles, spec.spad_latency_cycles, spec.net_latency_cycles
    rows = np.flatnonzero(w.an > 0)
    b_bytes = csr_bytes(w.nnzB) + 8 * w.n
    staged = b_bytes <= spec.spad_bytes_per_core * C / 2
    steps = w.b_cols_nonempty * w.an[rows] + w.nnzB          # merge steps of row i with all columns
    f, z = w.f[rows], w.z[rows]
    instr = INSTR_ROW + INSTR_STEP * steps + 2 * f + INSTR_STREAM * z
    remote = (C - 1) / C
    b_reads = steps - w.an[rows] * w.b_cols_nonempty + f      # B indices streamed, values on a match
    cost = dict(instr=instr, spad=steps + 2 * w.an[rows] + 2 * z,
                dram_bytes=w.a_bytes[rows] + csr_bytes(z), latency=instr + 3 * L + w.b_cols_nonempty * Ls, flops=f)
    if staged:
        cost.update(spad_all=b_reads, net_bytes=remote * 8 * b_reads, latency=cost["latency"] + Ln)
        pre = pool_phase(spec, "stage B", instr=INSTR_STREAM * w.nnzB / spec.threads * np.ones(spec.threads),
                      spad=np.full(spec.threads, b_bytes / 8 / spec.threads),
                      dram_bytes=np.full(spec.threads, b_bytes / spec.threads),
                      latency=INSTR_STREAM * w.nnzB / spec.threads + L, owner=np.arange(spec.threads))
        phases = [pre]
    else:
        cost["dram_bytes"] = cost["dram_bytes"] + 8 * b_reads
        phases = []
    phases.append(pool_phase(spec, "row x all columns", **cost))
    return phases, {"intersection_steps": int(steps.sum()), "b_staged_in_scratchpad": bool(staged)}


def outer(w: Work, spec) -> tuple[list, dict]:
    """Outer product: multiply phase into per-row DRAM buckets, then a heap merge per row."""
    L, La = spec.dram_latency_cycles, spec.atomic_latency_cycles
    ks = np.flatnonzero((w.acol > 0) & (w.bn > 0))
    a, b = w.acol[ks], w.bn[ks]
    fk = a * b
    instr = INSTR_ROW + INSTR_STREAM * (a + b) + 5 * fk + 2 * a
    mult = pool_phase(spec, "multiply", instr=instr, spad=2 * (a + b) + 2 * fk + csr_bytes(a) / 8 + csr_bytes(b) / 8,
                   atom=a, dram_bytes=csr_bytes(a) + csr_bytes(b) + 32 + a * csr_bytes(b),
                   latency=instr + 2 * L + a * (L + La), flops=fk)
    rows = np.flatnonzero(w.f > 0)
    f, z, runs = w.f[rows], w.z[rows], w.an[rows]
    fanin = max(2.0, spec.table_bytes_per_thread / RUN_BUFFER_BYTES)
    passes = np.maximum(1.0, np.ceil(np.log(np.maximum(runs, 2)) / np.log(fanin)))
    steps = f * _log2c(runs)
    instr = INSTR_ROW + INSTR_STEP * steps + INSTR_STREAM * (f + z)
    merge = pool_phase(spec, "merge", instr=instr, spad=2 * steps + 2 * f / 1.5 + 2 * z,
                    dram_bytes=passes * csr_bytes(f) + (passes - 1) * csr_bytes(f) + csr_bytes(z),
                    latency=instr + gather_latency(runs, spec) + 2 * passes * L, flops=0 * f)
    counts = {"partial_product_bytes": int(csr_bytes(w.f).sum()), "merge_steps": int(steps.sum()),
              "rows_multipass": int((passes > 1).sum())}
    return [mult, merge], counts


def rowwise_dram(w: Work, spec) -> tuple[list, dict]:
    """Row-wise Gustavson, expand-sort-compress with the partial products in DRAM."""
    L = spec.dram_latency_cycles
    rows = np.flatnonzero(w.f > 0)
    an, f, z = w.an[rows], w.f[rows], w.z[rows]
    passes = max(1, int(np.ceil(np.log2(max(w.n, 2)) / RADIX_BITS)))
    instr = (INSTR_ROW + INSTR_STREAM * an + 5 * f + passes * 6 * f + INSTR_STREAM * (f + z))
    g = Gathers(w, spec)
    spad = g.spad[rows] + 2 * f + passes * (2 * f + 2 * (1 << RADIX_BITS)) + 2 * z
    dram = (w.a_bytes[rows] + g.dram_bytes[rows] + csr_bytes(f) + passes * 2 * csr_bytes(f)
            + csr_bytes(f) + csr_bytes(z))
    lat = instr + (2 + 2 * passes + 2) * L + gather_latency(g.waits[rows], spec)
    tasks = pool_phase(spec, "rows", instr=instr, spad=spad, dram_bytes=dram, latency=lat, flops=f)
    return [tasks], {"sort_passes": passes, "partial_product_bytes": int(csr_bytes(w.f).sum()), **g.counts}


def phases_for(plan: SpgemmPlan, w: Work, spec) -> tuple[list, dict]:
    """Phases (ending with CSR assembly) and explaining counts of a checked SpGEMM mapping.

    The dataflow and merge pick the lowering (inner: intersections; outer: multiply then heap
    merge; row-wise with a sort merge: rowwise-dram; row-wise with a hash merge: the SMASH
    lowering, whose distribution and fragmentation are the mapping's switches).
    """
    if plan.dataflow == "inner":
        ph, counts = inner(w, spec)
    elif plan.dataflow == "outer":
        ph, counts = outer(w, spec)
    elif plan.merge == "sort":
        ph, counts = rowwise_dram(w, spec)
    else:
        ph, counts = smash(w, spec, tokens=plan.distribution == "tokens", fragment=plan.fragment)
    sort_instr = counts.pop("assembly_sort_instr", None)
    return ph + [assembly(w, spec, sort_instr)], counts
