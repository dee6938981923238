"""The SMASH mechanisms, each switched on and off: DMA requests in flight, V1 windows, caches."""

from pathlib import Path

import numpy as np
import pytest

from arch.registry import load_arch
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
    one = phases_for("rowwise-dram", w, spec1)[0][0]
    many = phases_for("rowwise-dram", w, specd)[0][0]
    # a row gathers one row of B per stored a_ik: nnz(A_i) gathers, in waves of in_flight, each
    # wave one DRAM latency; one at a time they cost nnz(A_i) latencies
    rows = np.flatnonzero(e.flops > 0)
    an = np.diff(A.indptr)[rows]
    saved = (an - np.ceil(an / in_flight)) * L
    assert np.allclose(one.latency - many.latency, saved)
    assert np.array_equal(one.dram_bytes, many.dram_bytes) and np.array_equal(one.instr, many.instr)


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
    assert "windows" not in off.counts and off.machine.tasks == rows + min(528, A.shape[0])  # rows + assembly blocks
    # west0067's tables are small: many rows share a window; the same work either way
    assert 0 < on.counts["windows"] < rows
    for k in ("flops", "nnz_z", "hash_probes", "atomics", "instructions", "spad_accesses"):
        assert on.counts[k] == off.counts[k], k
    assert on.report.dram_bytes == off.report.dram_bytes
    # windows go to threads in turn: thread t holds windows t, t + 528, ...
    ph = [p for p in phases_for("smash-v1", Work(A, A, e), load_arch("piuma"))[0] if p.name == "windows"][0]
    assert ph.owner.tolist() == [i % 528 for i in range(len(ph))]
