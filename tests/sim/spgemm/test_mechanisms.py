"""The SMASH mechanisms, each switched on and off: DMA requests in flight, V1 windows, caches."""

from pathlib import Path

import numpy as np
import pytest

from arch.registry import load_arch
from mappings.spgemm import load as load_plan
from sim.spgemm import expand, load_mtx, simulate
from sim.spgemm.kernels import Work, phases_for

DATA = Path(__file__).resolve().parents[2] / "data" / "matrices"


@pytest.fixture(scope="module")
def west():
    A = load_mtx(DATA / "west0067.mtx")
    return A, expand(A, A)


@pytest.mark.parametrize("in_flight", [1, 3, 8])
def test_dma_gathers_overlap_in_flight(west, in_flight):
    A, e = west
    L = 100
    spec1 = load_arch("piuma", {"dram_latency": L, "dma_in_flight": 1})
    specd = load_arch("piuma", {"dram_latency": L, "dma_in_flight": in_flight})
    w = Work(A, A, e)
    one = phases_for(load_plan("rowwise-dram"), w, spec1)[0][0]
    many = phases_for(load_plan("rowwise-dram"), w, specd)[0][0]
    # a row gathers one row of B per stored a_ik: nnz(A_i) gathers, in waves of in_flight, each
    # wave one DRAM latency; one at a time they cost nnz(A_i) latencies
    rows = np.flatnonzero(e.flops > 0)
    an = np.diff(A.indptr)[rows]
    saved = (an - np.ceil(an / in_flight)) * L
    assert np.allclose(one.latency - many.latency, saved)
    assert np.array_equal(one.occupancy["dram"], many.occupancy["dram"])
    assert np.array_equal(one.occupancy["pipeline"], many.occupancy["pipeline"])


def test_more_requests_in_flight_never_slow_a_kernel(west):
    A, e = west
    for k in ("outer", "rowwise-dram", "smash-v1", "smash-v3"):
        c = [simulate(A, A, k, load_arch("piuma", {"dma_in_flight": d, "dram_latency": 400}), expansion=e).report.cycles
             for d in (1, 2, 16)]
        assert c[0] >= c[1] >= c[2], (k, c)


def test_windows_group_consecutive_rows_that_fit_a_slice():
    from sim.spgemm.kernels import windows
    # slice 100 bytes: 40+50 fit, 30 opens a new window (120 > 100), 70 joins (100), 150 is alone
    # (above the slice), 10 opens the next window
    assert windows([40, 50, 30, 70, 150, 10], 100).tolist() == [0, 0, 1, 1, 2, 3]
    # at most two rows per window: 10, 10 | 10, 10 | 10
    assert windows([10] * 5, 100, max_rows=2).tolist() == [0, 0, 1, 1, 2]
    rng = np.random.default_rng(5)
    for _ in range(20):
        t = rng.integers(1, 300, rng.integers(1, 40))
        win = windows(t, 200)
        assert (np.diff(win) >= 0).all() and win[0] == 0
        for k in np.unique(win):
            members = t[win == k]
            assert members.sum() <= 200 or members.size == 1
            # greedy: the next window's first row did not fit beside this window
            if k + 1 <= win[-1]:
                assert members.sum() + t[win == k + 1][0] > 200


def test_v1_windows_switch(west):
    A, e = west
    on = simulate(A, A, "smash-v1", load_arch("piuma", {"windows": 1}), expansion=e)
    off = simulate(A, A, "smash-v1", load_arch("piuma", {"windows": 0}), expansion=e)
    rows = int((e.flops > 0).sum())
    assert "windows" not in off.counts and off.graph.steps() == rows + min(528, A.shape[0])  # rows + assembly blocks
    # west0067's 67 rows over 528 threads: one row per window, so that every row has a thread
    assert on.counts["windows"] == rows
    for k in ("flops", "nnz_z", "hash_probes", "atomics", "instructions", "spad_accesses"):
        assert on.counts[k] == off.counts[k], k
    assert on.report.dram_bytes == off.report.dram_bytes
    # windows go to threads in turn, cores first: window w to core w mod 8
    spec = load_arch("piuma")
    ph = [p for p in phases_for(load_plan("smash-v1"), Work(A, A, e), spec)[0] if p.name == "windows"][0]
    assert (ph.owner // spec.threads_per_core).tolist() == [i % 8 for i in range(len(ph))]
    assert len(set(ph.owner.tolist())) == len(ph)


class ReferenceCache:
    """An independent set-associative cache: one OrderedDict per set, oldest entry first."""

    def __init__(self, sets, ways, policy):
        from collections import OrderedDict
        self.sets, self.ways, self.policy = sets, ways, policy
        self.store = [OrderedDict() for _ in range(sets)]

    def access(self, line):
        s = self.store[line % self.sets]
        if line in s:
            if self.policy == "lru":
                s.move_to_end(line)
            return True
        s[line] = True
        if len(s) > self.ways:
            s.popitem(last=False)
        return False


@pytest.mark.parametrize("policy", ["lru", "fifo"])
@pytest.mark.parametrize("ways,sets", [(1, 8), (4, 4), (8, 1)])
def test_cache_hits_equal_a_reference_simulation(policy, ways, sets):
    from sim.spgemm.cache import run_lines
    rng = np.random.default_rng(ways * 10 + sets)
    # a stream with reuse at every distance: a hot set, a sweep and random lines
    lines = np.concatenate([rng.integers(0, 3 * ways * sets, 3000), np.tile(np.arange(ways * sets + 3), 20),
                            rng.zipf(1.5, 2000) % 500])
    ref = ReferenceCache(sets, ways, policy)
    expected = [ref.access(int(x)) for x in lines]
    got = run_lines(lines, sets * ways * 64, ways, 64, policy)
    assert got.tolist() == expected
    assert 0 < got.mean() < 1


def test_gather_stream_hit_counts_per_row(west):
    from sim.spgemm.cache import gather_hits
    A, _ = west
    line, ways, sets, cores = 32, 2, 4, 3
    hit, miss, miss_rows = gather_hits(A, A, cores, ways * sets * line, ways, line, "lru")
    # the stream written out by hand: per core its block of rows, per a_ik the lines of B's
    # indices (4 bytes) then of its values (8 bytes, in a region after the indices)
    data_base = -(-4 * A.nnz // line) * line
    m = A.shape[0]
    for c in range(cores):
        ref = ReferenceCache(sets, ways, "lru")
        for i in range(c * m // cores, (c + 1) * m // cores):
            h = mi = rows = 0
            for k in A.indices[A.indptr[i]:A.indptr[i + 1]]:
                lo, hi = A.indptr[k], A.indptr[k + 1]
                if hi == lo:
                    continue
                res = [ref.access(x) for base, width in ((0, 4), (data_base, 8))
                       for x in range((base + lo * width) // line, (base + hi * width - 1) // line + 1)]
                h, mi, rows = h + sum(res), mi + len(res) - sum(res), rows + (not all(res))
            assert (hit[i], miss[i], miss_rows[i]) == (h, mi, rows), i
    assert hit.sum() > 0 and miss.sum() > 0


def test_cache_gathers_switch(west):
    A, e = west
    dma = simulate(A, A, "smash-v1", load_arch("piuma"), expansion=e)
    cached = simulate(A, A, "smash-v1", load_arch("piuma", {"cache_gathers": 1}), expansion=e)
    assert "cache_hits" not in dma.counts
    h, mi = cached.counts["cache_hits"], cached.counts["cache_misses"]
    assert cached.counts["cache_hit_rate"] == pytest.approx(h / (h + mi))
    # DRAM bytes of the gathers: exact CSR bytes by DMA; whole 64-byte missed lines through the cache
    w = Work(A, A, e)
    rows = e.flops > 0
    assert cached.report.dram_bytes - dma.report.dram_bytes == pytest.approx(
        mi * 64 + 16 * w.an[rows].sum() - w.gather[rows].sum(), abs=1)
    assert cached.counts["flops"] == dma.counts["flops"] and cached.counts["nnz_z"] == dma.counts["nnz_z"]
