"""The hardware for real: Amaranth designs, Verilog emission, cocotb benches, synthesis stats."""
