"""What it costs: the Report, the lowered task graph, the analytical and discrete-event engines,
and machine models (PIUMA-like SpGEMM, the ternary MatMul-free unit)."""
