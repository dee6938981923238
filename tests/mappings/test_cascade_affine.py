"""Affine index expressions, reference projections, padding and the language's limits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import Cascade, CascadeError, Einsum, Index, Op, Ref, library, parse
from mappings.einsum import MAX_DEPTH, Projection


def _err(text, tensors=None, ranks=None):
    with pytest.raises(CascadeError) as info:
        c = parse(text)
        if tensors is not None:
            c.evaluate(tensors, ranks)
    return str(info.value)


# --------------------------------------------------------------------------- structure
def test_conv_einsums_parse_with_derived_input_dimensions():
    forms = {
        "O[k,p] = I[c,p+r] * W[k,c,r]": ("C", "P+R"),
        "O[k,p,q] = I[c,p+r,q+s] * W[k,c,r,s]": ("C", "P+R", "Q+S"),
        "O[k,p,q] = I[c,2*p+r,2*q+s] * W[k,c,r,s]": ("C", "2*P+R", "2*Q+S"),
        "O[c,p,q] = I[c,p+r,q+s] * W[c,r,s]": ("C", "P+R", "Q+S"),
        "O[k,p] = I[c,p+2*r] * W[k,c,r]": ("C", "P+2*R"),
    }
    for text, input_ranks in forms.items():
        c = parse(text)
        (e,) = c.einsums
        assert c.tensor_ranks["I"] == input_ranks
        assert e.reduce_op == "sum" and e.output_ranks == c.tensor_ranks["O"]
        # every index variable of the window is summed unless it is an output position
        assert set(e.reduced) == set(e.variables) - set(e.output.variables)
        assert str(e) == text


def test_projection_gives_coefficients_ranks_and_offsets():
    (e,) = parse("O[k,p,q] = I[c,2*p+r,q+s-1] * W[k,c,r,s]").einsums
    i, w = e.inputs
    assert i.projection() == Projection(terms=(((1, "C"),), ((2, "P"), (1, "R")),
                                               ((1, "Q"), (1, "S"))), offsets=(0, 0, -1))
    assert w.projection().terms == (((1, "K"),), ((1, "C"),), ((1, "R"),), ((1, "S"),))
    assert e.output.projection().offsets == (0, 0, 0)
    # extent = largest index + 1: 2*(P-1) + (R-1) + 1 and (Q-1) + (S-1) - 1 + 1
    P, R, Q, S, C = 5, 3, 4, 2, 7
    assert i.projection().extents({"C": C, "P": P, "R": R, "Q": Q, "S": S}) == \
        (C, 2 * (P - 1) + (R - 1) + 1, (Q - 1) + (S - 1))


def test_projection_extent_of_a_tile_is_the_sliding_window_footprint():
    # Timeloop's input tile for a P-tile and an R-tile of I[c,p+r] is P+R-1 wide; with stride
    # 2 it is 2*(P-1) + R, with dilation 2 (P-1) + 2*(R-1) + 1
    ((conv, _), (strided, _), (dilated, _)) = [
        parse(f"O[k,p] = I[c,{ix}] * W[k,c,r]").einsums[0].inputs
        for ix in ("p+r", "2*p+r", "p+2*r")]
    for p_tile, r_tile in ((1, 1), (4, 3), (7, 5)):
        tile = {"C": 2, "P": p_tile, "R": r_tile}
        assert conv.projection().extents(tile) == (2, p_tile + r_tile - 1)
        assert strided.projection().extents(tile) == (2, 2 * (p_tile - 1) + r_tile)
        assert dilated.projection().extents(tile) == (2, (p_tile - 1) + 2 * (r_tile - 1) + 1)


def test_projection_of_partition_and_constant_indices_needs_rank_sizes():
    c = library.attention(passes=1)
    bqk = c.einsum("BQK")
    k = bqk.inputs[1]                                       # K[e, m1*M0+m0]
    assert k.projection({"M0": 16}).terms == (((1, "E"),), ((16, "M1"), (1, "M0")))
    with pytest.raises(CascadeError, match=r"^the projection of index 'm1\*M0\+m0' needs the "
                                           r"size of rank 'M0'$"):
        k.projection()
    rnv = next(r for r in c.einsum("AV").inputs if r.name == "RNV")   # RNV[f,M1,p]
    assert rnv.projection({"M1": 8}) == Projection((((1, "F"),), (), ((1, "P"),)), (0, 8, 0))
    (rm,) = [r for r in c.einsum("RM").inputs if r.name == "RM"]      # RM[m1,p]
    assert c.einsum("RM").output.projection().offsets == (1, 0)       # RM[m1+1,p]
    assert rm.projection().offsets == (0, 0)


def test_a_convolution_reads_a_tensor_another_einsum_writes():
    c = parse("X[k,p] = I[c,p+r] * W[k,c,r]\nO[j,t] = X[k,t+u] * V[j,k,u]")
    assert c.tensor_ranks["X"] == ("K", "P") and c.inputs == ("I", "W", "V")
    rng = np.random.default_rng(3)
    C, K, J, R, U, T = 2, 3, 2, 3, 2, 4
    P = T + U - 1                           # X must have the derived extent of t+u
    i, w, v = (rng.standard_normal(s) for s in ((C, P + R - 1), (K, C, R), (J, K, U)))
    out = c.evaluate({"I": i, "W": w, "V": v}, ranks={"P": P, "T": T})
    x = np.array([[sum(i[cc, p + r] * w[k, cc, r] for cc in range(C) for r in range(R))
                   for p in range(P)] for k in range(K)])
    o = np.array([[sum(x[k, t + u] * v[j, k, u] for k in range(K) for u in range(U))
                   for t in range(T)] for j in range(J)])
    assert np.allclose(out["O"], o)
    assert _err(str(c), {"I": i, "W": w, "V": v}, {"P": P, "T": T + 1}) == (
        "Einsum 'O': tensor 'X' must have size 6 along axis 2 (index 't+u': (T-1) + (U-1) + 1 "
        "for T=5, U=2), not 5")


@pytest.mark.parametrize("text", [
    "O[k,p,q] = I[c,2*p+r,2*q+s] * W[k,c,r,s]",
    "O[k,p] = I[c,p+r-1] * W[k,c,r]\npad I = 0",
    "rank T\niterate t until t >= T\ninit R[0] = 0\nR[t+1] = R[t] + A[t]",
])
def test_printed_cascades_with_affine_indices_and_pads_parse_back(text):
    c = parse(text)
    again = parse(str(c))
    assert str(again) == str(c) and again.pads == c.pads
    assert again.tensor_ranks == c.tensor_ranks


# --------------------------------------------------------------------------- evaluation
def test_negative_index_is_an_error_without_padding_and_zero_with_it():
    rng = np.random.default_rng(0)
    i, w = rng.standard_normal((2, 6)), rng.standard_normal((3, 2, 3))
    text = "O[k,p] = I[c,p+r-1] * W[k,c,r]"
    assert _err(text, {"I": i, "W": w}, {"P": 4}) == (
        "Einsum 'O': index 'p+r-1' of tensor 'I' is -1 at k=0, p=0, c=0, r=0, outside its axis "
        "2 of size 6; declare 'pad I = 0' to read zeros there")
    out = parse(text + "\npad I = 0").evaluate({"I": i, "W": w}, ranks={"P": 6})  # 'same'
    padded = np.pad(i, ((0, 0), (1, 1)))
    ref = np.array([[sum(padded[c, p + r] * w[k, c, r] for c in range(2) for r in range(3))
                     for p in range(6)] for k in range(3)])
    assert np.allclose(out["O"], ref)
    assert out.op_counts["O"] == {"mac": 3 * 6 * 2 * 3}   # padded points execute: K*P*C*R


def test_constant_index_out_of_range_is_refused():
    # issue 13: this returned NaN before out-of-range reads became errors
    assert _err("Z[m] = A[m,9]", {"A": np.ones((2, 2))}) == (
        "Einsum 'Z': index '9' of tensor 'A' is 9 at m=0, outside its axis 2 of size 2; "
        "declare 'pad A = 0' to read zeros there")
    out = parse("Z[m] = A[m,9]\npad A = -1").evaluate({"A": np.ones((2, 2))})
    assert out["Z"].tolist() == [-1.0, -1.0]
    assert _err("Y[p] = X[p+1]", {"X": np.ones(3)}, {"P": 3}) == (
        "Einsum 'Y': index 'p+1' of tensor 'X' is 3 at p=2, outside its axis 1 of size 3; "
        "declare 'pad X = 0' to read zeros there")


def test_wrong_input_extent_names_tensor_axis_expected_and_actual_size():
    c = library.conv("conv1d", stride=2)
    i, w = np.ones((2, 8)), np.ones((4, 2, 3))
    with pytest.raises(CascadeError) as info:
        c.evaluate({"I": i, "W": w}, ranks={"P": 3})
    # 2*(P-1) + (R-1) + 1 = 2*2 + 2 + 1 = 7 columns are read; the array has 8
    assert str(info.value) == ("Einsum 'O': tensor 'I' must have size 7 along axis 2 (index "
                               "'2*p+r': 2*(P-1) + (R-1) + 1 for P=3, R=3), not 8")
    assert c.evaluate({"I": i[:, :7], "W": w}, ranks={"P": 3})["O"].shape == (4, 3)


def test_a_rank_seen_only_through_an_affine_index_needs_a_size():
    assert _err("O[k,p] = I[c,p+r] * W[k,c,r]", {"I": np.ones((2, 5)), "W": np.ones((1, 2, 2))}) \
        == "rank 'P' has no size; pass it with the rank sizes (e.g. {'P': 16})"


# --------------------------------------------------------------------------- errors
def test_malformed_affine_indices_are_refused_with_one_line():
    text = "O[k,p] = I[c,p-r] * W[k,c,r]"
    assert _err(text) == (f"Einsum 'O', line 1, column {text.index('r]') + 1}: an index may "
                          f"subtract only an integer offset (q+s-1)")
    text = "O[k,p] = I[c,0*p+r] * W[k,c,r]"
    assert _err(text) == (f"Einsum 'O', line 1, column {text.index('0*') + 1}: the coefficient "
                          f"of index variable 'p' must be a positive integer, not 0")
    assert _err("O[p] = I[p+p]") == \
        "Einsum 'O': index 'p+p' of tensor 'I' uses index variable 'p' twice"
    written = ("must be a rank variable (m), an offset (m1+1), a partition (m1*M0+m0) or a "
               "constant (M1, 0)")
    assert _err("O[p+r] = I[p] * W[r]") == \
        f"Einsum 'O': index 'p+r' of tensor 'O' {written}, not 'p+r'"
    assert _err("O[p-1] = I[p]") == f"Einsum 'O': index 'p-1' of tensor 'O' {written}, not 'p-1'"
    assert _err("O[p] = I[p]\npad I = 0\npad I = 1") == \
        "line 3, column 5: tensor 'I' is padded twice"
    assert _err("O[p] = I[p]\npad X = 0") == "pad of 'X': no Einsum reads or writes 'X'"


def test_deep_parentheses_are_refused_not_a_recursion_error():
    text = "Z[m] = " + "(" * 250 + "A[m]" + ")" * 250
    column = len("Z[m] = ") + MAX_DEPTH + 1          # the 101st '(' opens level 101
    assert _err(text) == (f"Einsum 'Z', line 1, column {column}: parentheses and operator calls "
                          f"nest deeper than 100 levels")
    assert _err("Z[m] = " + "exp(" * 250 + "A[m]" + ")" * 250).endswith("deeper than 100 levels")
    ok = parse("Z[m] = " + "(" * MAX_DEPTH + "A[m]" + ")" * MAX_DEPTH)
    assert ok.einsums[0].expr == Ref("A", (Index.var("m"),))


def test_long_sums_are_refused_past_the_depth_cap_and_evaluate_below_it():
    def total(n):
        return "Z[m] = " + " + ".join(f"A{k}[m]" for k in range(n))
    # a left-to-right sum of n terms nests n-1 additions
    assert _err(total(500)) == ("Einsum 'Z': the right-hand side nests 499 operators deep; at "
                                "most 100 are allowed (split it into several Einsums)")
    assert _err(total(MAX_DEPTH + 2)).startswith("Einsum 'Z': the right-hand side nests 101 ")
    c = parse(total(MAX_DEPTH + 1))
    arrays = {f"A{k}": np.full(3, float(k)) for k in range(MAX_DEPTH + 1)}
    out = c.evaluate(arrays)
    assert out["Z"].tolist() == [sum(range(MAX_DEPTH + 1))] * 3
    assert out.op_counts["Z"] == {"add": MAX_DEPTH * 3}


def test_hand_built_cascades_are_held_to_the_same_depth():
    expr = Ref("A", (Index.var("m"),))
    for _ in range(300):
        expr = Op("exp", (expr,))
    with pytest.raises(CascadeError, match=r"^Einsum 'Z': the right-hand side nests 300 "):
        Cascade([Einsum(Ref("Z", (Index.var("m"),)), expr)])


_INDEX_PIECES = ["p", "r", "q", "2", "0", "P", "+", "-", "*", ",", "1", "s", "(", "]", "m1"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_INDEX_PIECES), min_size=1, max_size=12),
       st.integers(1, 300))
def test_any_index_text_or_nesting_parses_or_gives_one_cascade_error(pieces, depth):
    for text in ("O[k] = I[" + "".join(pieces) + "] * W[k]",
                 "O[k] = " + "(" * depth + "I[k]" + ")" * depth):
        try:
            parse(text)
        except CascadeError as e:
            assert "\n" not in str(e)


_AXIS = st.sampled_from(["p", "r", "p+r", "2*p+r", "p+2*r", "p+r-1", "p-1", "p+1", "0", "3",
                         "r+1", "2*r"])


@settings(max_examples=300, deadline=None)
@given(axes=st.lists(_AXIS, min_size=1, max_size=2), pad=st.booleans(),
       shape=st.lists(st.integers(1, 5), min_size=2, max_size=2),
       P=st.integers(1, 4), R=st.integers(1, 3))
def test_any_affine_read_evaluates_or_gives_one_cascade_error(axes, pad, shape, P, R):
    text = f"Z[p] = A[{','.join(axes)}] * B[p,r]" + ("\npad A = 0" if pad else "")
    a = np.arange(np.prod(shape[:len(axes)]), dtype=float).reshape(shape[:len(axes)])
    try:
        out = parse(text).evaluate({"A": a, "B": np.ones((P, R))})
    except CascadeError as e:
        assert "\n" not in str(e)
        return
    # a direct reference: the same sum by loops, padding outside A, every point in range else
    want = np.zeros(P)
    for p in range(P):
        for r in range(R):
            at = tuple(eval(ix, {}, {"p": p, "r": r}) for ix in axes)
            inside = all(0 <= i < n for i, n in zip(at, a.shape))
            assert inside or pad
            want[p] += a[at] if inside else 0.0
    assert np.allclose(out["Z"], want)
