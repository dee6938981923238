"""Pass analysis and live footprint, derived from the cascades' dependency structure."""

import pytest

from mappings import CascadeError, library, parse
from mappings.analysis import live_tensors, pass_levels


@pytest.mark.parametrize("passes", [1, 2, 3])
def test_published_attention_cascades_take_their_named_number_of_passes(passes):
    # FuseMax (MICRO 2024): FLAT's cascade takes 3 passes over M, TileFlow's 2, FlashAttention's 1
    c = library.attention(passes=passes)
    assert c.passes("M") == passes
    assert c.footprint_grows("M") is (passes > 1)
    assert c.passes("P") == 1 and c.passes("E") == 1 and not c.footprint_grows("P")


def test_division_deferral_changes_the_structure():
    # 3-pass, deferred: SNV = sum_m SN*V accumulates beside SD in the second traversal, and the
    # division AV = SNV / SD touches no element of M, so only 2 passes remain.
    assert library.attention(3, deferred_division=True).passes("M") == 2
    # 2-pass, per-score division: every score waits for the complete denominator SD, which
    # itself waits for the global max GM: max over m1, then sum over m1, then the scores.
    c = library.attention(2, deferred_division=False)
    assert c.passes("M") == 3
    assert pass_levels(c, "M") == {"BQK": 1, "LM": 1, "SLN": 1, "SLD": 1, "GM": 1, "PRM": 2,
                                   "SD": 2, "A": 3, "AV": 3}
    assert library.attention(1, deferred_division=False).passes("M") == 1


def test_levels_of_the_three_pass_cascade():
    c = library.attention(3, deferred_division=False)
    assert pass_levels(c, "M") == {"QK": 1, "GM": 1, "SN": 2, "SD": 2, "A": 3, "AV": 3}
    assert live_tensors(c, "M") == ("QK", "SN")
    assert live_tensors(library.attention(1), "M") == ()
    assert live_tensors(library.attention(2), "M") == ("LM", "SLD", "SLNV")


def test_gemm_takes_one_pass_over_every_rank():
    c = library.gemm()
    assert [c.passes(r) for r in "MNK"] == [1, 1, 1]
    assert not any(c.footprint_grows(r) for r in "MNK")


def test_batched_cascades_keep_their_pass_structure():
    for passes in (1, 2, 3):
        c = library.attention(passes, batch=True)
        assert c.passes("M") == passes and c.passes("B") == 1 and c.passes("H") == 1


def test_passes_follow_dependencies_not_names():
    # each full reduction over m feeds an Einsum that traverses m again: one more pass each
    chain = parse("rank M, K\nX[] = sum[m] A[m]\nY[m] = A[m] * X[]\nZ[] = sum[m] Y[m]\n"
                  "W[m] = A[m] / Z[]")
    assert chain.passes("M") == 3 and chain.footprint_grows("M")
    assert chain.passes("K") == 0                       # declared, never traversed
    # independent reductions share one traversal
    assert parse("X[] = sum[m] A[m]\nY[] = max[m] A[m]\nZ[] = X[] / Y[]").passes("M") == 1
    # reductions inside a partition do not end a pass; one across partitions does
    local = ("rank M\npartition M into M1, M0\nL[m1] = max[m0] A[m1*M0+m0]\n"
             "S[m1,m0] = A[m1*M0+m0] - L[m1]\n")
    assert parse(local).passes("M") == 1
    across = parse(local + "G[] = max[m1] L[m1]\nT[m1,m0] = S[m1,m0] - G[]")
    assert across.passes("M") == 2 and across.footprint_grows("M")
    # a running value read at its final position waits for the end of the pass
    final = parse("rank T\niterate t until t >= T\ninit R[0] = 0\nR[t+1] = R[t] + A[t]\n"
                  "S[] = R[T] * R[T]\nY[t] = A[t] / S[]")
    assert final.passes("T") == 2


def test_pass_analysis_rejects_unknown_ranks():
    with pytest.raises(CascadeError, match=r"^'rank' must be a rank of the cascade "
                                           r"\(M, N, K\), not 'X'$"):
        library.gemm().passes("X")
