"""The ternary unit's golden model: functional values against numpy and hand derivations, the
cycle model against closed forms derived here from the pipeline's structure."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.errors import SimulationError, SpecError, WorkloadError
from sim.ternary import TernaryParams, TernaryTiming, decode, encode, matvec, simulate_cycles

# The published code table (docs/sources.md#ternip): 01 = +1, 11 = -1, 00 = 0, 10 illegal.
TABLE = {0b01: 1, 0b11: -1, 0b00: 0}


def test_params_are_keyword_only_and_validated_together():
    with pytest.raises(TypeError):
        TernaryParams(4)
    with pytest.raises(SpecError) as e:
        TernaryParams(lanes=0, act_width=1, max_rows=-3, max_cols=2.5)
    assert str(e.value) == ("'lanes' must be a positive integer, not 0; "
                            "'act_width' must be an integer >= 2, not 1; "
                            "'max_rows' must be a positive integer, not -3; "
                            "'max_cols' must be a positive integer, not 2.5")
    with pytest.raises(SpecError, match=r"^'acc_width' must be None or an integer >= act_width \+ 1 = 9, not 8$"):
        TernaryParams(lanes=2, acc_width=8)
    with pytest.raises(SpecError, match=r"^'lanes' must be a positive integer, not True$"):
        TernaryParams(lanes=True)


@pytest.mark.parametrize("max_cols, act_width, bits", [
    (1, 8, 9),        # sums in [-128, +128]: +128 needs 9 signed bits
    (2, 8, 10),       # [-256, +256]
    (3, 8, 10),       # [-384, +384] fits in [-512, 511]
    (4096, 8, 21),    # 4096 * 128 = 2**19 needs 21 signed bits
    (1000, 4, 14),    # 1000 * 8 = 8000 <= 2**13 - 1: 13 magnitude bits + sign
])
def test_full_accumulator_width_is_the_smallest_that_never_overflows(max_cols, act_width, bits):
    p = TernaryParams(lanes=3, act_width=act_width, max_cols=max_cols)
    assert p.full_acc_width == bits
    extreme = max_cols * 2 ** (act_width - 1)   # all x = -2**(A-1), all w = -1
    assert extreme <= 2 ** (bits - 1) - 1
    assert extreme > 2 ** (bits - 2) - 1       # one bit fewer would overflow


def test_encode_decode_follow_the_code_table():
    w = np.array([[1, -1, 0], [0, 1, -1]])
    codes = encode(w)
    assert codes.tolist() == [[0b01, 0b11, 0b00], [0b00, 0b01, 0b11]]
    values, illegal = decode(np.array([0, 1, 2, 3]))
    assert values.tolist() == [0, 1, 0, -1]
    assert illegal.tolist() == [False, False, True, False]
    with pytest.raises(WorkloadError, match=r"^'weights' must be ternary \(-1, 0, \+1\), not 2$"):
        encode([[1, 2]])


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lanes=st.integers(1, 9), rows=st.integers(1, 12),
       cols=st.integers(1, 40))
def test_matvec_equals_numpy(seed, lanes, rows, cols):
    rng = np.random.default_rng(seed)
    codes = rng.choice([0b00, 0b01, 0b11], size=(rows, cols))
    x = rng.integers(-128, 128, size=cols)
    w = np.vectorize(TABLE.get)(codes)
    r = matvec(codes, x, TernaryParams(lanes=lanes, max_rows=12, max_cols=40))
    assert r.y.tolist() == (w @ x).tolist()
    assert r.gated_lanes == int((w == 0).sum())
    assert r.error is False


def test_illegal_code_sets_the_error_flag_and_contributes_zero():
    codes = np.array([[0b01, 0b10, 0b11]])
    r = matvec(codes, np.array([5, 7, 11]), TernaryParams(lanes=2, max_cols=3))
    assert r.error is True
    assert r.y.tolist() == [5 - 11]
    assert r.gated_lanes == 0


def test_saturating_accumulator_clamps_after_every_beat():
    # 9-bit accumulator: [-256, 255]; two lanes, so beats of two columns.
    p = TernaryParams(lanes=2, max_cols=6, acc_width=9)
    x = np.full(6, 127)
    codes = encode(np.array([
        [1, 1, 1, 1, 0, 0],      # 254, then 508 -> 255, then 255
        [-1, -1, -1, -1, 0, 0],  # -254, then -508 -> -256
        [1, 1, 1, 1, -1, -1],    # 254, 255 (clamped), 255 - 254 = 1  (exact sum would be 254)
        [1, 1, -1, -1, 0, 0],    # 254, 0, 0: never clamps
    ]))
    assert matvec(codes, x, p).y.tolist() == [255, -256, 1, 0]


def test_bad_inputs_are_named():
    p = TernaryParams(lanes=2, max_rows=4, max_cols=4)
    with pytest.raises(WorkloadError, match=r"^'x' must hold 8-bit signed values \(-128\.\.127\), not 128$"):
        matvec(np.ones((2, 2), dtype=int), np.array([1, 128]), p)
    with pytest.raises(WorkloadError, match=r"^'cols' must be an integer in 1\.\.4 \(max_cols\), not 5$"):
        matvec(np.ones((2, 5), dtype=int), np.ones(5, dtype=int), p)
    with pytest.raises(WorkloadError, match=r"^'x' must have shape \(2,\), not \(3,\)$"):
        matvec(np.ones((2, 2), dtype=int), np.ones(3, dtype=int), p)


@pytest.mark.parametrize("lanes, depth", [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4), (64, 6)])
def test_tree_depth_and_latency(lanes, depth):
    t = TernaryTiming(lanes)
    assert t.tree_depth == depth == math.ceil(math.log2(lanes))
    # lane register + tree levels + output register
    assert t.latency_cycles == 1 + depth + 1
    assert t.initiation_interval == 1


def test_cycles_closed_form_by_hand():
    # P = 4, 3 x 10: ceil(10/4) = 3 beats per row. Command in cycle 0; activation beats in
    # cycles 1..3; weight beats in cycles 4..12; the last beat's result is valid 2 + 2 cycles
    # later (lane reg, 2 tree levels, output reg) = cycle 16 and is taken there: 17 cycles.
    assert TernaryTiming(4).cycles(3, 10) == 17
    assert simulate_cycles(3, 10, 4).cycles == 17
    assert simulate_cycles(3, 10, 4).result_cycles == (10, 13, 16)


@settings(max_examples=80, deadline=None)
@given(lanes=st.integers(1, 17), rows=st.integers(1, 9), cols=st.integers(1, 50))
def test_step_model_without_stalls_matches_closed_form(lanes, rows, cols):
    tr = simulate_cycles(rows, cols, lanes)
    chunks = -(-cols // lanes)
    assert tr.cycles == (rows + 1) * chunks + math.ceil(math.log2(lanes)) + 3
    assert tr.stall_cycles == 0
    # results leave one row-time apart
    assert np.diff(tr.result_cycles).tolist() == [chunks] * (rows - 1)


@settings(max_examples=80, deadline=None)
@given(lanes=st.integers(1, 9), rows=st.integers(1, 8), cols=st.integers(1, 30),
       ready=st.lists(st.booleans(), min_size=1, max_size=13).filter(any))
def test_every_backpressure_stall_costs_exactly_one_cycle(lanes, rows, cols, ready):
    tr = simulate_cycles(rows, cols, lanes, result_ready=ready)
    assert tr.cycles == TernaryTiming(lanes).cycles(rows, cols) + tr.stall_cycles
    # a stall happens only in a cycle where ready is low
    assert all(ready[c % len(ready)] for c in tr.result_cycles)


def test_input_gaps_delay_by_the_gap_cycles():
    # One lane, 1 x 2: gaps of 3 idle cycles before every activation beat and none on weights:
    # activation beats in cycles 4 and 8 instead of 1 and 2, so 6 cycles later than nominal.
    nominal = TernaryTiming(1).cycles(1, 2)
    assert simulate_cycles(1, 2, 1, act_gaps=[3]).cycles == nominal + 6


def test_result_never_ready_is_refused():
    with pytest.raises(SimulationError, match="more than 100 cycles"):
        simulate_cycles(2, 2, 2, result_ready=[False], max_cycles=100)
