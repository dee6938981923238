"""Run the ternary unit's bench under Amaranth's own simulator (no Verilator needed).

The same :class:`rtl.bench.ternary.TernaryBench` drives the design as under cocotb; this is the
fast path for unit tests and for waveforms of small cases (``vcd_path``).
"""

from __future__ import annotations

from amaranth.sim import Simulator

from arch.errors import SimulationError
from rtl.bench.ternary import TernaryBench


def cycle_budget(cases) -> int:
    """A generous bound on the cycles a list of cases may take (a hang guard, not a model)."""
    return sum(50 + 40 * (len(c.codes) + 1) * (len(c.codes[0]) + 1) for c in cases)


def run_amaranth(dut, cases, *, vcd_path=None):
    """Simulate ``cases`` back to back on ``dut`` (a :class:`rtl.ternary.TernaryUnit`).

    Returns the list of :class:`rtl.bench.ternary.Outcome`; raises :class:`SimulationError`
    when the unit does not finish within :func:`cycle_budget`.
    """
    bench = TernaryBench(dut.params, cases)
    ins = {
        "cmd__valid": dut.cmd.valid, "cmd__payload": dut.cmd.payload.as_value(),
        "act__valid": dut.act.valid, "act__payload": dut.act.payload.as_value(),
        "weight__valid": dut.weight.valid, "weight__payload": dut.weight.payload.as_value(),
        "result__ready": dut.result.ready,
    }
    outs = {
        "cmd__ready": dut.cmd.ready, "act__ready": dut.act.ready, "weight__ready": dut.weight.ready,
        "result__valid": dut.result.valid, "result__payload": dut.result.payload,
        "gated": dut.gated, "error": dut.error, "busy": dut.busy,
    }
    limit = cycle_budget(cases)

    async def testbench(ctx):
        while not bench.done:
            if bench.cycle > limit:
                raise SimulationError(f"ternary unit did not finish within {limit} cycles")
            for name, value in bench.inputs().items():
                ctx.set(ins[name], value)
            bench.outputs({name: ctx.get(sig) for name, sig in outs.items()})
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if vcd_path is not None:
        with sim.write_vcd(str(vcd_path)):
            sim.run()
    else:
        sim.run()
    return bench.outcomes
