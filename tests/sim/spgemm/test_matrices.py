"""Matrix inputs: Matrix Market errors as one line, generators seeded and validated."""

from pathlib import Path

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
    ("hdr.mtx", "%%MatrixMarket tensor coordinate real general\n3 3 1\n1 1 1.0\n",
     "first line must be '%%MatrixMarket matrix <format> <field> <symmetry>'"),
    ("nobanner.mtx", "3 3 1\n1 1 1.0\n", "first line must be"),
    ("range.mtx", BANNER + "3 3 2\n1 1 1.0\n4 2 2.0\n", "entry 2: row index 4 outside 1..3"),
    ("nonnum.mtx", BANNER + "3 3 2\n1 1 1.0\n2 2 abc\n", "entry 2: value must be a number, not 'abc'"),
    ("short.mtx", BANNER + "3 3 3\n1 1 1.0\n", "size line declares 3 entries, the file has 1"),
    ("long.mtx", BANNER + "3 3 1\n1 1 1.0\n2 2 2.0\n", "size line declares 1 entries, the file has 2"),
    # the case: scipy read "5 8 8 0.039" as A[5,8] = 8
    ("extra.mtx", BANNER + "9 9 1\n5 8 8 0.039\n", "entry 1 must have 3 fields, not 4 ('5 8 8 0.039')"),
    ("nul.mtx", BANNER + "3 3 1\n1 1\x00 1.0\n", "file holds a NUL or non-ASCII byte"),
    ("utf.mtx", BANNER + "3 3 1\n\u00b2 1 1.0\n", "file holds a NUL or non-ASCII byte"),
    ("inf.mtx", BANNER + "3 3 1\n1 1 inf\n", "entry 1: value must be a number, not 'inf'"),
    ("huge.mtx", BANNER + "60000000 60000000 100000000000000\n1 1 1.0\n",
     "entries must be at most 268435456 for 60000000x60000000 general, not 100000000000000"),
    ("wide.mtx", BANNER + "99999999999 3 1\n1 1 1.0\n", "rows and cols must be at most 67108864, not 99999999999x3"),
    # the case: 10^8 x 10^8 declared, scipy allocated before looking at the entries
    ("square.mtx", BANNER + "100000000 100000000 5\n1 1 1.0\n", "rows and cols must be at most 67108864"),
    ("dense.mtx", "%%MatrixMarket matrix array real general\n100000 100000\n1.0\n",
     "an array (dense) matrix must hold at most 16777216 values, not 100000x100000"),
    ("size.mtx", BANNER + "3 3\n1 1 1.0\n", "size line must be rows cols entries"),
    ("upper.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 1\n1 2 1.0\n",
     "entry 1: a symmetric file stores the lower triangle only, not (1, 2)"),
    ("rect.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 4 1\n1 1 1.0\n", "a symmetric matrix must be square"),
    ("intfield.mtx", "%%MatrixMarket matrix coordinate integer general\n3 3 1\n1 1 1.5\n",
     "entry 1: value must be a number, not '1.5'"),
])
def test_malformed_files_give_one_line(tmp_path, name, text, message):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
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
    assert A.shape == (50, 30) and A.nnz == 200
    # exactly the entries asked for, up to a full matrix; more cannot exist
    assert uniform_random(5, 5, 25).nnz == 25
    with pytest.raises(WorkloadError, match=r"'nnz' must be an integer in \[1, 25\], not 0"):
        uniform_random(5, 5, 0)
    with pytest.raises(WorkloadError, match=r"'nnz' must be an integer in \[1, 25\], not 1000"):
        uniform_random(5, 5, 1000)


def test_reader_agrees_with_scipy_on_the_shipped_matrices():
    """Every SuiteSparse file under tests/data/matrices reads as scipy.io.mmread reads it."""
    import glob

    import scipy.io

    from sim.spgemm.matrices import canonical

    files = sorted(glob.glob(str(Path(__file__).parents[2] / "data" / "matrices" / "*.mtx")))
    assert len(files) >= 7
    for f in files:
        A, B = load_mtx(f), canonical(scipy.io.mmread(f))
        assert A.shape == B.shape and (A != B).nnz == 0


def test_array_and_skew_formats(tmp_path):
    p = write(tmp_path, "a.mtx", "%%MatrixMarket matrix array real general\n2 3\n1\n2\n0\n4\n5\n0\n")
    assert load_mtx(p).toarray().tolist() == [[1, 0, 5], [2, 4, 0]]     # column-major
    p = write(tmp_path, "k.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 3.0\n")
    assert load_mtx(p).toarray().tolist() == [[0, -3], [3, 0]]
