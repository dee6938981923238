"""The cocotb test module that runs the ternary bench on the Verilator-built unit.

It is started by :func:`rtl.runner.run_cases`, which passes two file paths in the environment:
``EINSIM_TERNARY_CASES`` (JSON: the build parameters and the cases) and ``EINSIM_TERNARY_OUT``
(where the outcomes are written as JSON). The clock period is 10 ns; reset is held for two
cycles. The build parameters are read back from the DUT's port widths and must agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from rtl.bench.ternary import INPUTS, OUTPUTS, Case, TernaryBench
from sim.ternary import TernaryParams


def params_from_dut(dut) -> dict:
    """Lanes, activation width and result width as built, from the port widths."""
    lanes = len(dut.weight__payload) // 2
    return {"lanes": lanes, "act_width": len(dut.act__payload) // lanes,
            "result_width": len(dut.result__payload)}


@cocotb.test()
async def ternary_cases(dut):
    """Drive every case of the spec file back to back and record what the unit did."""
    with open(os.environ["EINSIM_TERNARY_CASES"]) as f:
        spec = json.load(f)
    params = TernaryParams(**spec["params"])
    cases = [Case.from_dict(d) for d in spec["cases"]]
    built = params_from_dut(dut)
    expected = {"lanes": params.lanes, "act_width": params.act_width, "result_width": params.result_width}
    assert built == expected, f"DUT built as {built}, bench expects {expected}"

    Clock(dut.clk, 10, unit="ns").start()
    for name in INPUTS:
        getattr(dut, name).value = 0
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    for case in cases:
        dut._log.info("case %s: seed %d, %d x %d", case.name, case.seed, case.rows, case.cols)
    bench = TernaryBench(params, cases)
    limit = int(spec["cycle_limit"])
    handles_in = {name: getattr(dut, name) for name in INPUTS}
    handles_out = {name: getattr(dut, name) for name in OUTPUTS}
    while not bench.done:
        assert bench.cycle <= limit, f"unit did not finish within {limit} cycles"
        for name, value in bench.inputs().items():
            handles_in[name].value = value
        await ReadOnly()
        out = {name: int(h.value) for name, h in handles_out.items()}
        out["result__payload"] = handles_out["result__payload"].value.to_signed()
        bench.outputs(out)
        await RisingEdge(dut.clk)

    with open(os.environ["EINSIM_TERNARY_OUT"], "w") as f:
        json.dump([asdict(o) for o in bench.outcomes], f)
