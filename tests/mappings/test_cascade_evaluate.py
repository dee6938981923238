"""The functional evaluator against independent numpy references, and its measured op counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import OP_CLASSES, CascadeError, library, parse

VARIANTS = [(p, d) for p in (1, 2, 3) for d in (False, True)]


def softmax_attention(q, k, v):
    """AV[f,p] = sum_m V[f,m] softmax_m(K^T Q)[m,p], computed directly with numpy (float64)."""
    s = k.T @ q                                   # [M, P]
    w = np.exp(s - s.max(axis=0, keepdims=True))  # stable softmax over m
    return v @ (w / w.sum(axis=0, keepdims=True))


def rel_err(out, ref):
    return np.max(np.abs(out - ref)) / np.max(np.abs(ref))


def inputs(seed, E, F, M, P, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal((E, P)), scale * rng.standard_normal((E, M)),
            rng.standard_normal((F, M)))


def test_public_api_call_shape_works_for_every_variant():
    q, k, v = inputs(1, 8, 6, 40, 12)
    ref = softmax_attention(q, k, v)
    for passes, deferred in VARIANTS:
        c = library.attention(passes=passes, deferred_division=deferred)
        out = c.evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": 16})  # M0 unused by 3-pass
        assert out["AV"].shape == (6, 12)
        assert rel_err(out["AV"], ref) < 1e-9, (passes, deferred)


@settings(max_examples=60, deadline=None)
@given(variant=st.sampled_from(VARIANTS), E=st.integers(1, 6), F=st.integers(1, 5),
       M=st.integers(1, 24), P=st.integers(1, 6), M0=st.integers(1, 9),
       scale=st.sampled_from([1.0, 1e3]), seed=st.integers(0, 2**32 - 1))
def test_every_attention_cascade_equals_softmax_attention(variant, E, F, M, P, M0, scale, seed):
    q, k, v = inputs(seed, E, F, M, P, scale)     # M0 need not divide M: a short last partition
    c = library.attention(*variant)
    out = c.evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": M0})
    assert np.all(np.isfinite(out["AV"]))
    assert rel_err(out["AV"], softmax_attention(q, k, v)) < 1e-9


def test_large_inputs_overflow_a_softmax_without_max_but_not_the_cascades():
    q, k, v = inputs(7, 8, 4, 33, 5, scale=1e3)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(k.T @ q)
        naive = v @ (naive / naive.sum(axis=0))
    assert not np.all(np.isfinite(naive))          # the test data really overflows
    ref = softmax_attention(q, k, v)
    for variant in VARIANTS:
        out = library.attention(*variant).evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": 8})
        assert np.all(np.isfinite(out["AV"])) and rel_err(out["AV"], ref) < 1e-9, variant


def test_remainder_partition_leaves_the_tail_absent():
    q, k, v = inputs(3, 3, 2, 10, 4)
    out = library.attention(1).evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": 4})
    assert out["BQK"].shape == (3, 4, 4)            # M1 = ceil(10 / 4)
    assert np.isnan(out["BQK"][2, 2:]).all() and np.isfinite(out["BQK"][2, :2]).all()
    np.testing.assert_allclose(out["BQK"].reshape(12, 4)[:10], k.T @ q, rtol=1e-12)
    assert out["RM"].shape == (4, 4)                # M1 + 1 running values
    np.testing.assert_allclose(out["RM"][-1], (k.T @ q).max(axis=0), rtol=1e-12)


def test_batch_and_head_axes_lead_every_tensor():
    B, H, E, F, M, P = 2, 3, 4, 5, 9, 6
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((B, H, E, P)), rng.standard_normal((B, H, E, M)),
               rng.standard_normal((B, H, F, M)))
    for variant in VARIANTS:
        implicit = library.attention(*variant).evaluate({"Q": q, "K": k, "V": v},
                                                        ranks={"M0": 4})
        explicit = library.attention(*variant, batch=True).evaluate({"Q": q, "K": k, "V": v},
                                                                   ranks={"M0": 4})
        assert implicit["AV"].shape == (B, H, F, P)
        for b in range(B):
            for h in range(H):
                ref = softmax_attention(q[b, h], k[b, h], v[b, h])
                assert rel_err(implicit["AV"][b, h], ref) < 1e-9
                assert rel_err(explicit["AV"][b, h], ref) < 1e-9
        single = library.attention(*variant).evaluate({"Q": q[0, 0], "K": k[0, 0], "V": v[0, 0]},
                                                      ranks={"M0": 4})
        assert implicit.total_op_counts() == {op: B * H * n
                                              for op, n in single.total_op_counts().items()}


def test_gemm_and_batched_gemm():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))
    out = library.gemm().evaluate({"A": a, "B": b})
    np.testing.assert_allclose(out["Z"], a @ b, rtol=1e-12)
    assert out.op_counts == {"Z": {"mac": 5 * 7 * 3}}
    a4, b4 = rng.standard_normal((4, 5, 7)), rng.standard_normal((4, 7, 3))
    np.testing.assert_allclose(library.gemm().evaluate({"A": a4, "B": b4})["Z"], a4 @ b4,
                               rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(x=st.permutations("abcd").map(lambda p: "".join(p[:3])),
       y=st.permutations("abcd").map(lambda p: "".join(p[:2])),
       keep=st.integers(0, 4), sizes=st.lists(st.integers(1, 4), min_size=4, max_size=4),
       seed=st.integers(0, 2**32 - 1))
def test_classical_einsums_match_numpy_einsum(x, y, keep, sizes, seed):
    union = list(dict.fromkeys(x + y))
    out = "".join(union[:keep])
    size = dict(zip("abcd", sizes))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal([size[i] for i in x])
    Y = rng.standard_normal([size[i] for i in y])
    c = parse(f"Z[{','.join(out)}] = X[{','.join(x)}] * Y[{','.join(y)}]")
    res = c.evaluate({"X": X, "Y": Y})
    np.testing.assert_allclose(res["Z"], np.einsum(f"{x},{y}->{out}", X, Y), rtol=1e-12,
                               atol=1e-12)
    points = int(np.prod([size[i] for i in union]))
    op = "mac" if len(out) < len(union) else "mul"
    assert res.op_counts == {"Z": {op: points}}


# --------------------------------------------------------------------------- op counts
def closed_forms(passes, deferred, M, P, E, F, M0):
    """Op counts of each attention cascade, derived by hand from its Einsums (docs/cascades.md).

    The per-score work is M*P (QK and AV are E*M*P and F*M*P MACs); the per-partition work of
    the partitioned cascades is M1*P with M1 = ceil(M / M0).
    """
    M1 = -(-M // M0)
    if passes == 3:
        c = dict(mac=E * M * P + F * M * P, max=M * P, sub=M * P, exp=M * P, add=M * P,
                 mul=0, div=F * P if deferred else M * P)
    elif passes == 2:
        c = dict(mac=E * M * P + M1 * P + F * (M1 * P if deferred else 0) + F * M * P,
                 max=M * P + M1 * P, sub=M * P + M1 * P, exp=M * P + M1 * P, add=M * P,
                 mul=0 if deferred else M * P, div=F * P if deferred else M * P)
    else:
        c = dict(mac=E * M * P + F * M * P, max=M * P + M1 * P, sub=M * P + M1 * P,
                 exp=M * P + M1 * P, add=M * P + M1 * P + F * M1 * P, mul=M1 * P + F * M1 * P,
                 div=F * P if deferred else F * M1 * P)
    return {**dict.fromkeys(OP_CLASSES, 0), **c}  # classes attention does not use count 0


@pytest.mark.parametrize("passes,deferred", VARIANTS)
def test_op_counts_at_the_published_shape(passes, deferred):
    shape = {"M": 1024, "P": 1024, "E": 64, "F": 64, "M0": 256}
    c = library.attention(passes=passes, deferred_division=deferred)
    assert c.op_counts(shape) == closed_forms(passes, deferred, 1024, 1024, 64, 64, 256)
    per = c.op_counts(shape, per_einsum=True)
    qk = "QK" if passes == 3 else "BQK"
    assert per[qk] == {**dict.fromkeys(OP_CLASSES, 0), "mac": 64 * 1024 * 1024}
    divider, divisions = ("AV", 64 * 1024) if deferred else \
        ("RO", 64 * 4 * 1024) if passes == 1 else ("A", 1024 * 1024)
    assert per[divider]["div"] == divisions == c.op_counts(shape)["div"]
    for e in c.einsums:
        assert e.op_counts(shape) == per[e.name]


@settings(max_examples=50, deadline=None)
@given(variant=st.sampled_from(VARIANTS), E=st.integers(1, 4), F=st.integers(1, 4),
       M=st.integers(1, 20), P=st.integers(1, 4), M0=st.integers(1, 8))
def test_closed_form_op_counts_equal_the_counts_measured_while_evaluating(variant, E, F, M, P, M0):
    q, k, v = inputs(0, E, F, M, P)
    c = library.attention(*variant)
    shape = {"M": M, "P": P, "E": E, "F": F, "M0": M0}
    res = c.evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": M0})
    per = c.op_counts(shape, per_einsum=True)
    assert {n: {op: x for op, x in d.items() if x} for n, d in per.items()} == res.op_counts
    assert c.op_counts(shape) == closed_forms(*variant, M, P, E, F, M0)


# --------------------------------------------------------------------------- evaluation errors
def _eval_err(fn):
    with pytest.raises(CascadeError) as info:
        fn()
    return str(info.value)


def test_evaluation_errors_name_the_einsum_and_rank():
    c = library.attention(1)
    q, k, v = inputs(0, 4, 2, 7, 5)
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k[:3], "V": v}, ranks={"M0": 2})) == \
        "Einsum 'BQK': rank 'E' has size 4 in tensor 'Q' but 3 in tensor 'K'"
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k, "V": v[:, :6]}, ranks={"M0": 2})) == \
        "Einsum 'SLNV': rank 'M' has size 7 in tensor 'K' but 6 in tensor 'V'"
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": 2, "M": 8})) == \
        "Einsum 'BQK': rank 'M' has size 7 in tensor 'K' but 8 in ranks"
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k, "V": v})) == \
        "rank 'M0' has no size; pass it with the rank sizes (e.g. {'M0': 16})"
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k, "V": v}, ranks={"M0": 0})) == \
        "rank 'M0' must be a positive integer, not 0"
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k}, ranks={"M0": 2})) == \
        "cascade input 'V' is missing (inputs: Q, K, V)"
    assert _eval_err(lambda: c.evaluate({"Q": q, "K": k, "V": v, "X": q})) == \
        "tensor 'X' is not an input of the cascade (inputs: Q, K, V)"
    assert _eval_err(lambda: c.evaluate({"Q": q[0], "K": k, "V": v}, ranks={"M0": 2})) == \
        "tensor 'Q' must have 2 axes [E, P], not shape (5,)"
    assert _eval_err(lambda: c.evaluate({"Q": q[None], "K": k, "V": v}, ranks={"M0": 2})) == (
        "tensors 'Q' and 'K' must carry the same leading batch axes before their ranks, not "
        "shapes (1, 4, 5) [E, P] and (4, 7) [E, M]")
    assert _eval_err(lambda: c.op_counts({"M": 10, "M0": 4, "M1": 2, "E": 1, "F": 1, "P": 1})) \
        == "rank 'M1' must be ceil(M / M0) = 3, not 2"
    assert _eval_err(lambda: library.attention(4)) == "'passes' must be 1, 2 or 3, not 4"


def test_iterative_rank_runs_step_by_step_and_its_final_value_is_readable():
    c = parse("""
        rank T, P
        iterate t until t >= T
        init R[0,p] = 0
        R[t+1,p] = R[t,p] + A[t,p]      # running sum
        S[p]     = R[T,p] * R[T,p]      # square of the final value
        Y[t,p]   = A[t,p] / S[p]        # a second, ordinary traversal of t
    """)
    a = np.random.default_rng(4).standard_normal((6, 3))
    out = c.evaluate({"A": a})
    np.testing.assert_allclose(out["R"], np.vstack([np.zeros(3), np.cumsum(a, axis=0)]),
                               rtol=1e-12)
    np.testing.assert_allclose(out["Y"], a / a.sum(axis=0) ** 2, rtol=1e-12)
    assert out.op_counts == {"R": {"add": 18}, "S": {"mul": 3}, "Y": {"div": 18}}
    assert c.passes("T") == 2
