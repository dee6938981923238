"""Matrix inputs: Matrix Market errors as one line, generators seeded and validated."""

import numpy as np
import pytest

from arch.errors import WorkloadError
from sim.spgemm import load_mtx, rmat, uniform_random


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


BANNER = "%%MatrixMarket matrix coordinate real general\n"


@pytest.mark.parametrize("name,text,message", [
    ("hdr.mtx", "%%MatrixMarket tensor coordinate real general\n3 3 1\n1 1 1.0\n", "Invalid MatrixMarket header element: tensor"),
    ("nobanner.mtx", "3 3 1\n1 1 1.0\n", "Missing banner"),
    ("range.mtx", BANNER + "3 3 2\n1 1 1.0\n4 2 2.0\n", "Row index out of bounds"),
    ("nonnum.mtx", BANNER + "3 3 2\n1 1 1.0\n2 2 abc\n", "Invalid floating-point value"),
    ("short.mtx", BANNER + "3 3 3\n1 1 1.0\n", "Truncated file"),
])
def test_malformed_files_give_one_line(tmp_path, name, text, message):
    p = write(tmp_path, name, text)
    with pytest.raises(WorkloadError) as err:
        load_mtx(p)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{p}: malformed Matrix Market file (") and message in msg


def test_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match=r"^matrix file '.*nope.mtx' does not exist$"):
        load_mtx(tmp_path / "nope.mtx")


def test_empty_matrices(tmp_path):
    p = write(tmp_path, "e.mtx", BANNER + "0 0 0\n")
    with pytest.raises(WorkloadError, match=r"matrix must have at least one row and one column, not shape 0x0"):
        load_mtx(p)
    p = write(tmp_path, "z.mtx", BANNER + "3 3 0\n")
    with pytest.raises(WorkloadError, match=r"must hold at least one stored entry, not an empty matrix \(3x3, 0 entries\)"):
        load_mtx(p)


def test_complex_refused(tmp_path):
    p = write(tmp_path, "c.mtx", "%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.0 2.0\n")
    with pytest.raises(WorkloadError, match="values must be real, integer or pattern, not complex"):
        load_mtx(p)


def test_pattern_symmetric_expands(tmp_path):
    p = write(tmp_path, "s.mtx", "%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 3\n")
    A = load_mtx(p)
    assert A.toarray().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]


def test_rmat_shape_seed_and_determinism():
    A = rmat(8, 4, seed=3)
    assert A.shape == (256, 256) and 0 < A.nnz <= 4 * 256
    B = rmat(8, 4, seed=3)
    assert (A != B).nnz == 0
    assert (rmat(8, 4, seed=4) != A).nnz > 0
    # all mass in quadrant a: every edge descends to vertex pair (v, v) -> one entry
    C = rmat(6, 2, seed=1, abcd=(1.0, 0.0, 0.0, 0.0))
    assert C.nnz == 1 and C.diagonal().sum() > 0


def test_rmat_degree_skew_matches_graph500_probabilities():
    # A vertex's share of edge sources is the product over levels of (a+b) for a 0 bit and
    # (c+d) for a 1 bit: the heaviest row draws ef * 2^scale * 0.76^scale edges (binomial, sd
    # about 2 %). Duplicates are summed and values are uniform in [0, 1), so its row sum is
    # about half that.
    scale, ef = 12, 16
    A = rmat(scale, ef, seed=1)
    expected = 0.5 * ef * 2 ** scale * 0.76 ** scale
    heaviest = float(np.asarray(A.sum(axis=1)).max())
    assert 0.85 * expected < heaviest < 1.15 * expected
    # the lightest quadrant d = 0.05: the all-ones vertex draws ef * 2^scale * 0.24^scale ~ 0 edges
    assert np.count_nonzero(np.diff(A.indptr) == 0) > 2 ** scale // 4


@pytest.mark.parametrize("kw,message", [
    (dict(scale=0), "'rmat' must be an integer in [1, 26], not 0"),
    (dict(scale=27), "'rmat' must be an integer in [1, 26], not 27"),
    (dict(scale=4, edge_factor=0), "'edge_factor' must be an integer in [1, 1024], not 0"),
    (dict(scale=4, seed=-1), "'seed' must be an integer in [0, 9223372036854775807], not -1"),
    (dict(scale=4, abcd=(0.5, 0.5, 0.5, 0.5)), "'a, b, c, d' must be non-negative and sum to 1"),
])
def test_rmat_parameters_out_of_range(kw, message):
    with pytest.raises(WorkloadError) as err:
        rmat(**kw)
    assert str(err.value).startswith(message)


def test_uniform_random():
    A = uniform_random(50, 30, 200, seed=2)
    assert A.shape == (50, 30) and 150 < A.nnz <= 200
    with pytest.raises(WorkloadError, match=r"'nnz' must be an integer in \[1, 268435456\], not 0"):
        uniform_random(5, 5, 0)
