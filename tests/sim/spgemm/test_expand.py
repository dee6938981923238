"""The row-wise hash expansion computes scipy's product and the published flops and nnz."""

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.spgemm import canonical, expand, load_mtx


def sequential_linear_probing(cols, size):
    """Reference: insert columns one at a time; probes of every insertion."""
    table, probes = [None] * size, []
    for c in cols:
        s, n = (c * 107) & (size - 1), 1
        while table[s] is not None and table[s] != c:
            s, n = (s + 1) % size, n + 1
        table[s] = c
        probes.append(n)
    return table, probes

DATA = Path(__file__).resolve().parents[2] / "data" / "matrices"


def sources_table():
    """(file -> (flops, nnz(A.A))) read from SOURCES.md, the independent expected values."""
    out = {}
    for line in (DATA / "SOURCES.md").read_text().splitlines():
        m = re.match(r"\|\s*(\S+\.mtx)\s*\|[^|]*\|[^|]*\|\s*([\d,]+)\s*\|\s*([\d,]+)\s*\|", line)
        if m:
            out[m.group(1)] = (int(m.group(2).replace(",", "")), int(m.group(3).replace(",", "")))
    return out


SOURCES = sources_table()


def assert_same_product(Z, ref):
    ref = ref.tocsr()
    ref.sort_indices()
    assert Z.shape == ref.shape
    assert np.array_equal(Z.indptr, ref.indptr) and np.array_equal(Z.indices, ref.indices)
    np.testing.assert_allclose(Z.data, ref.data, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(ref.data).max(initial=0)))


def test_sources_table_lists_the_seven_matrices():
    assert len(SOURCES) == 7 and SOURCES["pushpull.mtx"] == (18295599, 2010366)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_real_matrix_product_flops_and_nnz(name):
    A = load_mtx(DATA / name)
    e = expand(A, A)
    flops, nnz = SOURCES[name]
    assert e.total_flops == flops
    assert e.total_nnz == nnz == e.Z.nnz
    assert_same_product(e.Z, A @ A)
    assert e.total_probes >= flops and (e.occupied >= e.nnz).all()


@pytest.mark.parametrize("name", ["karate.mtx", "west0067.mtx", "olm1000.mtx"])
def test_probe_counts_equal_one_key_at_a_time_hashing(name):
    A = load_mtx(DATA / name)
    e = expand(A, A, keep_product=False)
    bn = np.diff(A.indptr)
    for i in range(A.shape[0]):
        cols = [int(j) for k in A.indices[A.indptr[i]:A.indptr[i + 1]] for j in A.indices[A.indptr[k]:A.indptr[k + 1]]]
        if not cols:
            assert e.probes[i] == 0
            continue
        size = 1
        while size < 2 * min(len(cols), A.shape[1]):
            size *= 2
        _, probes = sequential_linear_probing(cols, size)
        assert e.probes[i] == sum(probes), i
        assert e.flops[i] == len(cols) == int(bn[A.indices[A.indptr[i]:A.indptr[i + 1]]].sum())


def test_zero_row_empty_product_and_one_by_one():
    A = canonical(sp.csr_matrix(np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]])))
    e = expand(A, A)
    assert_same_product(e.Z, A @ A)
    assert e.flops.tolist() == [0, 0, 1 + 2]   # row 0 hits the empty row 1; row 2: rows 0 and 2
    N = canonical(sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]])))   # N @ N = 0
    e = expand(N, N)
    assert e.total_flops == 0 and e.Z.nnz == 0 and e.Z.shape == (2, 2)
    one = canonical(sp.csr_matrix(np.array([[3.0]])))
    e = expand(one, one)
    assert e.Z.toarray().tolist() == [[9.0]] and e.total_probes == 1


def test_cancellation_drops_like_scipy():
    A = canonical(sp.csr_matrix(np.array([[1.0, 1.0], [1.0, -1.0]])))
    B = canonical(sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0]])))
    e = expand(A, B)    # row 1: 1*1 + (-1)*1 = 0 -> dropped, but one slot was claimed
    assert e.Z.toarray().tolist() == [[2.0, 0.0], [0.0, 0.0]]
    assert e.occupied.tolist() == [1, 1] and e.nnz.tolist() == [1, 0]
    assert (A @ B).nnz == 1


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30), st.floats(0.02, 0.5), st.integers(0, 10**6))
def test_random_rectangular_products(m, k, n, density, seed):
    A = sp.random(m, k, density=density, format="csr", random_state=seed)
    B = sp.random(k, n, density=density, format="csr", random_state=seed + 1)
    if A.nnz == 0 or B.nnz == 0:
        return
    A, B = canonical(A), canonical(B)
    e = expand(A, B)
    assert_same_product(e.Z, A @ B)
    assert e.total_flops == int(np.diff(B.indptr)[A.indices].sum())


COUNTS = ("flops", "occupied", "nnz", "slots", "probes")


@pytest.mark.parametrize("name", ["karate.mtx", "zenios.mtx", "bcsstk13.mtx"])
def test_compiled_and_vectorised_merges_agree(name):
    # zenios stores explicit zeros and bcsstk13 cancels exactly: nnz below occupied slots
    A = load_mtx(DATA / name)
    a, b = expand(A, A, compiled=True), expand(A, A, compiled=False)
    for f in COUNTS:
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.max_probe == b.max_probe
    assert np.array_equal(a.Z.indptr, b.Z.indptr) and np.array_equal(a.Z.indices, b.Z.indices)
    assert np.array_equal(a.Z.data, b.Z.data)
    ref = (A @ A).tocsr()
    ref.sort_indices()
    assert np.array_equal(a.Z.data, ref.data)        # generation order: scipy's sums bit for bit


@pytest.mark.parametrize("compiled", [True, False])
def test_counts_without_values_when_every_sum_is_positive(compiled):
    # values uniform in (0, 1): no sum can be 0, so nnz = occupied slots without accumulating
    from sim.spgemm import rmat
    A = rmat(8, 8, 3)
    assert A.data.min() > 0
    counted = expand(A, A, keep_product=False, compiled=compiled)
    full = expand(A, A, keep_product=True, compiled=compiled)
    for f in COUNTS:
        assert np.array_equal(getattr(counted, f), getattr(full, f)), f
    assert counted.Z is None and full.Z.nnz == (A @ A).nnz == counted.total_nnz


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 25), st.floats(0.05, 0.6), st.integers(0, 10**6))
def test_compiled_merge_equals_one_key_at_a_time_with_signed_values(n, density, seed):
    # small signed integers: many sums cancel to exactly 0
    rng = np.random.default_rng(seed)
    A = sp.random(n, n, density=density, format="csr", random_state=seed, data_rvs=lambda k: rng.integers(-2, 3, k).astype(float))
    if A.count_nonzero() == 0:
        return
    A = canonical(A)
    e = expand(A, A, compiled=True)
    assert_same_product(e.Z, A @ A)
    for i in range(n):
        cols = [int(j) for k in A.indices[A.indptr[i]:A.indptr[i + 1]] for j in A.indices[A.indptr[k]:A.indptr[k + 1]]]
        size = 1
        while cols and size < 2 * min(len(cols), n):
            size *= 2
        assert e.probes[i] == (sum(sequential_linear_probing(cols, size)[1]) if cols else 0)
