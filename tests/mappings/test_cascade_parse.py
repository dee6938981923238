"""The cascade language: parsing, structure seen by downstream code, and every error message."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.errors import WorkloadError
from mappings import CascadeError, library, parse


def test_one_line_einsum_sums_the_dropped_rank():
    c = parse("QK[m,p] = Q[e,p] * K[e,m]")
    (e,) = c.einsums
    assert (e.name, e.reduce_op, e.reduced, e.reduced_ranks) == ("QK", "sum", ("e",), ("E",))
    assert e.output_ranks == ("M", "P")
    assert [r.name for r in e.inputs] == ["Q", "K"]
    assert [r.ranks for r in e.inputs] == [("E", "P"), ("E", "M")]
    assert e.map_ops == ("mul",)
    assert e.ranks == ("M", "P", "E")
    assert c.inputs == ("Q", "K") and c.outputs == ("QK",)
    assert set(c.ranks) == {"M", "P", "E"}


def test_multi_line_text_with_declarations_comments_and_semicolons():
    c = parse("""
        # a running sum over steps t, written the FuseMax way
        rank T, P                      # ranks
        iterate t until t >= T
        init R[0,p] = 0
        X2[t,p] = X[t,p] * X[t,p];  R[t+1,p] = R[t,p] + X2[t,p]
        OUT[p] = R[T,p]
    """)
    assert [e.name for e in c.einsums] == ["X2", "R", "OUT"]
    assert c.inputs == ("X",) and c.outputs == ("OUT",)
    assert c.space.iterations[0].var == "t"
    assert c.tensor_ranks["R"] == ("T", "P")
    assert c.inits[0].ref.name == "R" and c.inits[0].value == 0.0


def test_one_pass_attention_structure_for_lowering():
    c = library.attention(passes=1, deferred_division=True)
    names = [e.name for e in c.einsums]
    assert names == ["BQK", "LM", "RM", "SLN", "SLD", "SLNV", "PRM", "SPD", "RD", "SPNV", "RNV",
                     "AV"]
    assert c.inputs == ("Q", "K", "V") and c.outputs == ("AV",)
    by = {e.name: e for e in c.einsums}
    assert by["BQK"].output_ranks == ("M1", "M0", "P")
    assert by["BQK"].inputs[1].ranks == ("E", "M")          # K read as K[e, m1*M0+m0]
    assert str(by["BQK"].inputs[1]) == "K[e,m1*M0+m0]"
    assert (by["LM"].reduce_op, by["LM"].reduced_ranks) == ("max", ("M0",))
    assert by["RM"].map_ops == ("max",) and by["RM"].reduce_op is None
    assert by["SLN"].map_ops == ("exp", "sub")
    assert (by["SLNV"].reduce_op, by["SLNV"].map_ops) == ("sum", ("mul",))
    assert by["AV"].map_ops == ("div",) and by["AV"].ranks == ("F", "P")
    assert c.space.partition_of("M").outer == "M1"
    assert {i.ref.name for i in c.inits} == {"RM", "RD", "RNV"}


@pytest.mark.parametrize("passes", [1, 2, 3])
@pytest.mark.parametrize("deferred", [False, True])
@pytest.mark.parametrize("batch", [False, True])
def test_printed_cascades_parse_back_to_the_same_cascade(passes, deferred, batch):
    c = library.attention(passes, deferred, batch=batch)
    again = parse(str(c), name=c.name)
    assert str(again) == str(c)
    assert [e.name for e in again.einsums] == [e.name for e in c.einsums]
    assert again.tensor_ranks == c.tensor_ranks


def test_batched_cascade_prepends_batch_and_head_ranks():
    c = library.attention(passes=3, batch=True)
    assert c.tensor_ranks["Q"] == ("B", "H", "E", "P")
    assert c.tensor_ranks["AV"] == ("B", "H", "F", "P")
    with pytest.raises(CascadeError, match=r"^'batch rank' must be a new upper-case rank name, "
                                           r"not 'M'$"):
        library.attention(passes=3).batched("M")


_LETTERS = "abcd"


@st.composite
def classical_einsum(draw):
    x = draw(st.permutations(_LETTERS).map(lambda p: p[:draw(st.integers(0, 3))]))
    y = draw(st.permutations(_LETTERS).map(lambda p: p[:draw(st.integers(1, 3))]))
    union = list(dict.fromkeys(x + y))
    out = draw(st.permutations(union).map(lambda p: p[:draw(st.integers(0, len(union)))]))
    return "".join(x), "".join(y), "".join(out)


@settings(max_examples=40, deadline=None)
@given(classical_einsum())
def test_any_classical_einsum_parses_with_the_right_reduction(spec):
    x, y, out = spec
    text = f"Z[{','.join(out)}] = X[{','.join(x)}] * Y[{','.join(y)}]"
    (e,) = parse(text).einsums
    dropped = [v for v in dict.fromkeys(x + y) if v not in out]
    assert list(e.reduced) == dropped
    assert e.reduce_op == ("sum" if dropped else None)
    assert str(e) == text


# --------------------------------------------------------------------------- error messages
def _err(text):
    with pytest.raises(CascadeError) as info:
        parse(text)
    assert isinstance(info.value, WorkloadError)
    return info.value


def test_syntax_error_names_line_and_column():
    e = _err("rank M, P\nX[m,p] = A[m,p] +\n")
    assert str(e) == ("Einsum 'X', line 2, column 18: expected a tensor reference, a number, an "
                      "operator call or '(', found end of statement")
    assert (e.line, e.column, e.einsum) == (2, 18, "X")
    assert str(_err("X[m,p = A[m,p]")) == "line 1, column 7: expected ']', found '='"
    assert str(_err("A[m] = X[m] ^ 2")) == "line 1, column 13: unexpected character '^'"
    assert str(_err("qk[m] = X[m]")) == (
        "line 1, column 1: expected a statement (rank, partition, iterate, init) or an Einsum "
        "(upper-case tensor name), found 'qk'")


def test_undeclared_rank():
    e = _err("rank M, P\nX[m,p] = A[m,e] * B[e,p]")
    assert str(e) == "Einsum 'X': rank 'E' is not declared (declared: M, P)"
    assert (e.einsum, e.rank) == ("X", "E")


def test_rank_used_with_two_different_shapes():
    e = _err("QK[m,p] = Q[e,p] * K[e,m]\nX[m,e] = K[m,e]")
    assert str(e) == "Einsum 'X': tensor 'K' is indexed by ranks [M, E] here but [E, M] in Einsum 'QK'"


def test_output_rank_missing_on_the_right_hand_side():
    e = _err("rank M, P, F\nA[m,p,f] = B[m,p]")
    assert str(e) == "Einsum 'A': output rank 'F' does not appear on the right-hand side"
    assert e.rank == "F"


def test_rank_dropped_without_a_reduction():
    assert str(_err("G[p] = exp(QK[m,p])")) == (
        "Einsum 'G': rank 'M' is dropped from the output without a reduction; write sum[m] or "
        "max[m]")


def test_tensor_used_before_it_is_produced():
    assert str(_err("SN[m,p] = exp(QK[m,p] - GM[p])\nGM[p] = max[m] QK[m,p]")) == (
        "Einsum 'SN': tensor 'GM' is used before it is produced (by Einsum 'GM', line 2)")


def test_unknown_operators():
    assert str(_err("SN[m,p] = expo(QK[m,p])")) == (
        "Einsum 'SN': unknown operator 'expo' (known: add, div, erf, exp, max, mul, rsqrt, sqrt, sub, tanh)")
    assert str(_err("S[p] = prod[m] X[m,p]")) == (
        "Einsum 'S': unknown reduction operator 'prod' (known: sum, max)")
    assert str(_err("S[m] = exp(X[m], Y[m])")) == "Einsum 'S': operator 'exp' takes 1 operand(s), not 2"


def test_other_structural_errors():
    assert str(_err("A[m] = X[m]\nA[m] = Y[m]")) == "Einsum 'A': tensor 'A' is produced twice (lines 1 and 2)"
    assert str(_err("init R[0] = 0\nA[m] = X[m]")) == "init of 'R': no Einsum produces 'R'"
    assert str(_err("A[m] = sum[m] X[m]")) == "Einsum 'A': rank 'M' is both reduced and in the output"
    assert str(_err("A[p] = sum[m] X[p]")) == "Einsum 'A': reduced rank 'M' does not appear on the right-hand side"
    assert str(_err("rank M, M\nA[m] = X[m]")) == "line 1, column 9: rank 'M' is declared twice"
    assert str(_err("# nothing\n")) == "a cascade must contain at least one Einsum, not none"
    # m+n is an affine sum since affine indices were added; a variable times a rank size
    # outside a declared partition is still refused
    assert str(_err("rank M, N\nA[m,n] = X[m*N+n]")) == (
        "Einsum 'A': index 'm*N+n' of tensor 'X' must be a rank variable (m), an offset "
        "(m1+1, p-1), an affine sum (p+r, 2*p+r-1), a partition (m1*M0+m0) or a constant "
        "(M1, 0), not 'm*N+n'")


@pytest.mark.parametrize("cmp,trips", [(">=", 4), (">", 5), ("==", 4)])
def test_stop_conditions_set_the_number_of_steps(cmp, trips):
    c = parse(f"rank T\niterate t until t {cmp} T\ninit R[0] = 0\nR[t+1] = R[t] + A[t]")
    assert c.space.iterations[0].trips({"T": 4}) == trips
    assert c.op_counts({"T": 4})["add"] == trips


def test_declared_default_sizes_and_lookup_by_name():
    c = parse("rank M, M0 = 4\npartition M into M1, M0\nL[m1] = max[m0] A[m1*M0+m0]")
    assert c.rank_sizes({"M": 10}) == {"M": 10, "M0": 4, "M1": 3}
    assert c.einsum("L").reduce_op == "max"
    with pytest.raises(CascadeError, match=r"^'einsum' must name an Einsum of the cascade \(L\), "
                                           r"not 'X'$"):
        c.einsum("X")


def test_cascades_shown_in_the_docs_parse_and_match_the_library():
    import pathlib
    import re
    doc = (pathlib.Path(__file__).parents[2] / "docs" / "cascades.md").read_text()
    blocks = [b for _, b in re.findall(r"^```(\w*)\n(.*?)^```", doc, re.S | re.M)
              if b.startswith("rank ")]
    shown = [parse(b) for b in blocks]
    assert len(shown) == 7
    expected = [library.gemm(), library.attention(3), library.attention(1),
                library.conv("conv1d"), library.conv("conv2d", stride=2),
                library.conv("depthwise")]
    for got, want in zip(shown, expected):
        assert [str(e) for e in got.einsums] == [str(e) for e in want.einsums]
    assert shown[-1].pads == {"I": 0.0}                     # the padded "same" convolution


SPGEMM_CSR_CSC = """Z[m,n] = A[m,k] * B[k,n]
format A[M,K] = U, C
format B[N,K] = U, C
"""


def test_format_statement_records_storage_order_and_rank_formats():
    c = parse(SPGEMM_CSR_CSC)
    assert c.formats == {"A": (("M", "U"), ("K", "C")), "B": (("N", "U"), ("K", "C"))}
    back = parse(str(c))
    assert back.formats == c.formats and str(back) == str(c)
    # batch ranks are stored outermost and uncompressed
    assert c.batched("H").formats["A"] == (("H", "U"), ("M", "U"), ("K", "C"))
    assert parse("Z[m,n] = A[m,k] * B[k,n]").formats == {}


@pytest.mark.parametrize("line,message", [
    ("format A[M,K] = U, X", "line 2, column 8: format of 'A': a rank format is U (uncompressed) or C (compressed), not 'X'"),
    ("format A[M,K] = U", "line 2, column 8: format of 'A': 2 ranks need 2 rank formats, not 1"),
    ("format A[M,N] = U, C", "format of 'A': must order the ranks of A (M, K), not M, N"),
    ("format A[M] = U", "format of 'A': must order the ranks of A (M, K), not M"),
    ("format Q[M,N] = U, C", "format of 'Q': no Einsum reads or writes 'Q'"),
    ("format A[M,K] = U, C; format A[K,M] = U, C", "line 2, column 30: tensor 'A' has two formats"),
    ("format A M = U", "line 2, column 10: expected '[', found 'M'"),
])
def test_bad_format_statements_are_one_line(line, message):
    with pytest.raises(CascadeError) as err:
        parse("Z[m,n] = A[m,k] * B[k,n]\n" + line)
    assert str(err.value) == message
