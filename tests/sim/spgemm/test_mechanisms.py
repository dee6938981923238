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
