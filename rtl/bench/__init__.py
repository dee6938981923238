"""Reusable testbench pieces for the ternary unit: stream drivers and monitors, case
generation, the checker against ``sim.ternary``, and adapters for ``amaranth.sim`` and cocotb.

The bench logic is simulator-independent: each clock cycle it says what to drive on the input
ports and consumes what it sampled on the output ports (port names as in the emitted Verilog,
``cmd__valid``, ``result__payload``, ...), so the same driver, monitor and checker run under
Amaranth's simulator and under Verilator.
"""
