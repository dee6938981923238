"""The Amaranth design of the ternary unit under Amaranth's own simulator (fast, no Verilator):
values against numpy, cycles against the golden cycle model of ``sim.ternary``."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from arch.errors import SpecError
from rtl.bench.amaranth_sim import run_amaranth
from rtl.bench.ternary import Case, check, extreme_cases, random_case
from rtl.ternary import TernaryUnit
from rtl.verilog import emit
from sim.ternary import encode, simulate_cycles

# Designs built only to inspect their ports or to be refused are never elaborated.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth._unused.UnusedMustUse")

TABLE = {0b01: 1, 0b11: -1, 0b00: 0, 0b10: 0}   # 01 = +1, 11 = -1, 00 = 0, 10 illegal (adds 0)


def numpy_reference(case):
    w = np.vectorize(TABLE.get)(np.array(case.codes))
    return (w @ np.array(case.x)).tolist()


@pytest.mark.parametrize("lanes", [1, 2, 3, 4, 5, 7, 8])
def test_random_products_with_backpressure_and_gaps(lanes):
    dut = TernaryUnit(lanes=lanes, max_rows=7, max_cols=19)
    seeds = [1000 * lanes + s for s in range(6)]
    cases = [random_case(s, dut.params, backpressure=0.35, gaps=0.25) for s in seeds]
    cases += extreme_cases(dut.params)
    outcomes = run_amaranth(dut, cases)
    assert len(outcomes) == len(cases)
    for case, out in zip(cases, outcomes):
        assert out.y == numpy_reference(case), f"{case.name} (seed {case.seed})"
        verdict = check(case, out, dut.params)
        assert verdict["cycles_match"], verdict
        assert verdict["gated_match"] and verdict["error_match"], verdict


def test_extremes_by_hand():
    dut = TernaryUnit(lanes=3, max_rows=5, max_cols=7)
    by_name = {c.name: (c, o) for c, o in zip(extreme_cases(dut.params), run_amaranth(dut, extreme_cases(dut.params)))}
    assert by_name["all-neg-plus1"][1].y == [-128 * 7] * 5
    assert by_name["all-neg-minus1"][1].y == [128 * 7] * 5
    assert by_name["all-zero-weights"][1].y == [0] * 5
    assert by_name["all-zero-weights"][1].gated == 5 * 7     # every lane within cols gated
    assert by_name["all-pos-plus1"][1].gated == 0
    assert by_name["cols-1"][1].y == [-128, 128, 0]
    assert by_name["rows-1-cols-1"][1].y == [128]
    assert by_name["illegal-code"][1].error == 1
    assert by_name["all-pos-plus1"][1].error == 0
    # 1 x 1 on 3 lanes: command, one activation beat, one weight beat in cycle 2, then lane
    # register, two tree levels, output register: result taken in cycle 6, 7 cycles in all.
    assert by_name["rows-1-cols-1"][1].cycles == 7


def test_padding_lanes_are_ignored_and_not_counted():
    # 2 x 4 on 3 lanes: the second beat of each row carries 2 padding lanes (codes 10, illegal,
    # and 00) that must neither add, count as gated, nor raise the error flag.
    dut = TernaryUnit(lanes=3, max_rows=2, max_cols=4)
    case = Case("padding", 0, encode(np.array([[1, 0, -1, 1], [0, 0, 0, -1]])).tolist(), [3, 5, 7, 11], [], [], [])
    out = run_amaranth(dut, [case])[0]
    assert out.y == [3 - 7 + 11, -11]
    assert out.gated == 4
    assert out.error == 0


def test_saturating_accumulator():
    # 10-bit accumulator [-512, 511], 2 lanes, x all 127: a row of six +1 sums 254 per beat:
    # 254, 508, 511 (clamped); six -1: -254, -508, -512 (clamped).
    dut = TernaryUnit(lanes=2, max_rows=2, max_cols=6, acc_width=10)
    case = Case("sat", 0, encode(np.array([[1] * 6, [-1] * 6])).tolist(), [127] * 6, [], [], [])
    assert run_amaranth(dut, [case])[0].y == [511, -512]
    assert len(dut.result.payload) == 10


def test_full_width_result_port():
    dut = TernaryUnit(lanes=4, max_cols=4096)
    assert len(dut.result.payload) == 21     # 4096 * 128 = 2**19 -> 21 signed bits


def test_refused_command_sets_error_and_stays_idle():
    dut = TernaryUnit(lanes=2, max_rows=4, max_cols=4)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.cmd.payload.rows, 0)
        ctx.set(dut.cmd.payload.cols, 3)
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        seen["error"] = ctx.get(dut.error)
        seen["busy"] = ctx.get(dut.busy)
        seen["ready"] = ctx.get(dut.cmd.ready)
        ctx.set(dut.cmd.payload.rows, 3)
        ctx.set(dut.cmd.payload.cols, 5)       # cols > max_cols
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        seen["busy2"] = ctx.get(dut.busy)
        seen["error2"] = ctx.get(dut.error)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen == {"error": 1, "busy": 0, "ready": 1, "busy2": 0, "error2": 1}


def test_back_to_back_products_share_nothing():
    # The second product's counters, accumulator and flags start clean after the first.
    dut = TernaryUnit(lanes=4, max_rows=3, max_cols=9)
    a = Case("a", 0, encode(np.array([[1] * 9] * 3)).tolist(), [-128] * 9, [False, True], [], [])
    bad = encode(np.array([[0] * 5])); bad[0, 2] = 0b10
    b = Case("b", 0, bad.tolist(), [1] * 5, [], [1], [2])
    outs = run_amaranth(dut, [a, b])
    assert outs[0].y == [-1152] * 3 and outs[0].error == 0 and outs[0].gated == 0
    assert outs[1].y == [0] and outs[1].error == 1 and outs[1].gated == 4
    assert outs[1].cycles == simulate_cycles(1, 5, 4, act_gaps=[1], weight_gaps=[2]).cycles


def test_parameters_are_keyword_only_and_validated():
    with pytest.raises(TypeError):
        TernaryUnit(4)
    with pytest.raises(SpecError, match=r"^'lanes' must be a positive integer, not 0; 'max_cols' must be a positive integer, not 0$"):
        TernaryUnit(lanes=0, max_cols=0)


def test_verilog_has_the_stream_ports():
    text = emit(lanes=3, max_rows=4, max_cols=8)
    assert "module ternary_unit" in text
    for port in ("clk", "rst", "cmd__valid", "cmd__ready", "cmd__payload", "act__payload",
                 "weight__payload", "weight__ready", "result__valid", "result__ready",
                 "result__payload", "gated", "error", "busy"):
        assert f" {port}" in text, port


def test_waveform_goes_where_asked(tmp_path):
    dut = TernaryUnit(lanes=2, max_rows=2, max_cols=3)
    case = Case("wave", 0, encode(np.array([[1, -1, 0], [0, 1, 1]])).tolist(), [1, 2, 3], [], [], [])
    out = run_amaranth(dut, [case], vcd_path=tmp_path / "unit.vcd")[0]
    assert out.y == [1 - 2, 2 + 3]
    text = (tmp_path / "unit.vcd").read_text()
    assert "result__valid" in text and "weight__ready" in text
