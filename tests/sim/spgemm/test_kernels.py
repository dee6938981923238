"""Every kernel on real and corner-case data: the product, the counts and their invariants."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from arch.errors import MappingError, WorkloadError
from arch.registry import load_arch
from sim.spgemm import HASHING, KERNELS, canonical, expand, load_mtx, simulate
from sim.spgemm.kernels import csr_bytes

DATA = Path(__file__).resolve().parents[2] / "data" / "matrices"


@pytest.fixture(scope="module")
def spec():
    return load_arch("piuma")


@pytest.fixture(scope="module")
def west():
    A = load_mtx(DATA / "west0067.mtx")
    return A, expand(A, A)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_product_and_counts(spec, west, kernel):
    A, e = west
    r = simulate(A, A, kernel, spec, expansion=e)
    ref = (A @ A).tocsr()
    ref.sort_indices()
    assert np.array_equal(r.Z.indices, ref.indices) and np.allclose(r.Z.data, ref.data)
    rec = r.record(matrix="west0067.mtx")
    # SOURCES.md: west0067 A.A has 1,283 flops and 1,061 entries
    assert rec["flops"] == 1283 and rec["nnz_z"] == 1061
    for key in ("kernel", "matrix", "cycles", "seconds", "energy_pj", "dram_bytes", "hash_probes", "atomics"):
        assert key in rec
    assert rec["cycles"] > 0 and rec["seconds"] == pytest.approx(rec["cycles"] / 1e9)
    assert rec["energy_pj"] == pytest.approx(sum(rec["energy_breakdown"].values()))
    # compulsory traffic: read A once (as A and as B) is at least its CSR bytes; write Z once
    assert rec["dram_bytes"] >= csr_bytes(A.nnz) + csr_bytes(ref.nnz)
    if kernel in HASHING:
        assert rec["hash_probes"] == e.total_probes >= rec["flops"]
        assert rec["hash_collisions"] == rec["hash_probes"] - rec["flops"]
        # one CAS per distinct column, one fetch-add per partial product, plus token fetches
        assert rec["atomics"] >= int(e.occupied.sum()) + rec["flops"]
    else:
        assert rec["hash_probes"] == 0
    assert 0 < rec["thread_occupancy"] <= 1
    assert all(0 <= u <= 1 + 1e-9 for u in rec["utilization"].values())


def test_inner_intersection_steps_closed_form(spec, west):
    # merge of row i with every non-empty column j takes nnz(A_i) + nnz(B_j) steps: summed over
    # non-empty rows i and columns j this is rows_A * nnz(B) + cols_B * nnz(A)
    A, e = west
    rows = np.count_nonzero(np.diff(A.indptr))
    cols = np.count_nonzero(np.diff(A.tocsc().indptr))
    r = simulate(A, A, "inner", spec, expansion=e, keep_product=False)
    assert r.counts["intersection_steps"] == rows * A.nnz + cols * A.nnz


def test_deterministic(spec, west):
    A, e = west
    a = simulate(A, A, "smash-v2", spec, expansion=e, keep_product=False).record()
    b = simulate(A, A, "smash-v2", spec, keep_product=False).record()
    assert a == b


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dense", [
    [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]],   # an all-zero row
    [[0.0, 1.0], [0.0, 0.0]],                              # A @ A is empty
    [[5.0]],                                                # 1 x 1
])
def test_corner_cases_run(spec, kernel, dense):
    A = canonical(sp.csr_matrix(np.array(dense)))
    r = simulate(A, A, kernel, spec)
    assert np.allclose(r.Z.toarray(), np.array(dense) @ np.array(dense))
    assert r.report.cycles >= 0


def test_hashing_beats_dram_sort_on_dram_traffic(spec):
    # Independent of timing: the scratchpad merge never writes partial products to DRAM, so
    # smash-v3 moves fewer DRAM bytes than rowwise-dram, which writes and re-reads them.
    A = load_mtx(DATA / "bcsstk13.mtx")
    e = expand(A, A, keep_product=False)
    v3 = simulate(A, A, "smash-v3", spec, expansion=e, keep_product=False).report.dram_bytes
    rw = simulate(A, A, "rowwise-dram", spec, expansion=e, keep_product=False).report.dram_bytes
    assert v3 < rw / 2


def test_more_dram_bandwidth_never_slows_a_kernel(west):
    A, e = west
    slow = simulate(A, A, "rowwise-dram", load_arch("piuma", {"dram_gbps": 20}), expansion=e).report.cycles
    fast = simulate(A, A, "rowwise-dram", load_arch("piuma", {"dram_gbps": 2000}), expansion=e).report.cycles
    assert fast <= slow


def test_bad_kernel_and_shapes(spec, west):
    A, _ = west
    with pytest.raises(MappingError, match=r"^'kernel' must be one of inner, outer, rowwise-dram, smash-v1, smash-v2, smash-v3, not 'gustavson' \(or give mapping=FILE.yaml\)$"):
        simulate(A, A, "gustavson", spec)
    B = canonical(sp.csr_matrix(np.ones((3, 2))))
    with pytest.raises(WorkloadError, match=r"^'b' must have as many rows as 'a' has columns \(67\), not 3 \(shapes 67x67 and 3x2\)$"):
        simulate(A, B, "smash-v1", spec)
