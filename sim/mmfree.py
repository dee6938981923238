"""A MatMul-free language model on the ternary accelerator, lowered to a task graph.

Hardware terms: the accelerator of ``arch.mmfree`` runs one token of autoregressive decoding
(one input vector per layer) through every block of a MatMul-free LM (Zhu et al., arXiv
2406.02528; docs/sources.md#mmfree-model). Each block is an MLGRU token mixer and a GLU channel
mixer, seven ternary matrices (BitLinear) in four matrix-vector steps, with element-wise work
between them:

============  =========================  ==============================================
step          unit                       work (one token)
============  =========================  ==============================================
mlgru_norm    vector                     RMSNorm + 8-bit absmax quantisation of x (d)
mlgru_fcg     dram -> ternary            BitLinear f, c, g: 3d x d
mlgru_elem    vector                     rescale 3d; sigmoid f, SiLU c, h = f h + (1-f) c,
                                         o' = sigmoid(g) h; RMSNorm + quantise o' (d)
mlgru_o       dram -> ternary            BitLinear o: d x d
glu_norm      vector                     rescale, residual add, RMSNorm + quantise (d)
glu_gate_up   dram -> ternary            BitLinear gate, up: 2I x d
glu_elem      vector                     rescale 2I; p = SiLU(g) u; RMSNorm + quantise (I)
glu_down      dram -> ternary            BitLinear down: d x I
residual      vector                     rescale, residual add (d)
============  =========================  ==============================================

Per block ``4 d^2 + 3 d I`` ternary weights with ``I = 256 ceil(int(8d/3) / 256)``. A matrix
step is a loop over tiles of ``tile_rows`` rows: the tile's packed weights stream from DRAM
(``weight_bits`` per weight at ``bits_per_cycle``; double-buffered: tile ``i`` may load once the
product of tile ``i - 2`` has freed its buffer), then the ternary unit runs one command of
``tile_rows x cols``, costing exactly :meth:`sim.ternary.TernaryTiming.cycles` (the RTL's
cycle count, activation reload included). Steps are separated by barriers. Not modelled: the
embedding lookup and the output head, and prefetching the next step's first tile during
element-wise work (a fill of one tile per matrix step).

Energy per action at 45 nm (Horowitz, ISSCC 2014): a non-zero weight is one 8-bit add, a gated
lane none; each beat costs ``P - 1`` 16-bit tree adds and one 32-bit accumulator add; the
activation buffer is read once per beat (``P * act_width`` bits in 32-bit words) and written
once per command; DRAM weights at 640 pJ per 32 bits; the vector unit's element-wise
operations are fp16 adds and multiplies with the per-element counts in :data:`ELEMENT_OPS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from arch.errors import WorkloadError
from sim.cost import dram_transfer, priced_items, transfer_cycles
from sim.taskgraph import Dep, Phase, Task, TaskGraph
from sim.ternary import TernaryTiming


@dataclass(frozen=True)
class ModelShape:
    """Blocks ``layers`` of width ``d`` (hidden size)."""

    layers: int
    d: int

    @property
    def glu_width(self) -> int:
        """GLU intermediate width ``I = 256 * ceil(int(8 d / 3) / 256)`` (matmulfreellm)."""
        return 256 * math.ceil(int(8 * self.d / 3) / 256)

    @property
    def weights_per_block(self) -> int:
        """Ternary weights of one block, ``4 d^2 + 3 d I``."""
        return 4 * self.d ** 2 + 3 * self.d * self.glu_width

    @property
    def weights(self) -> int:
        return self.layers * self.weights_per_block


#: Published model sizes (Zhu et al., arXiv 2406.02528): layers, hidden size d.
MODELS = {"370M": ModelShape(24, 1024), "1.3B": ModelShape(24, 2048), "2.7B": ModelShape(32, 2560)}

#: fp16 (multiplies, adds) per element of each element-wise operation. Assumptions: RMSNorm is
#: square, accumulate, scale by 1/rms, scale by the gain; absmax quantisation is a compare
#: (counted as an add) and a scale-and-round multiply; sigmoid is a two-segment polynomial
#: approximation (2 multiplies, 2 adds); SiLU is x * sigmoid(x).
ELEMENT_OPS = {
    "rmsnorm": (3, 1), "quantize": (1, 1), "rescale": (1, 0), "residual": (0, 1),
    "sigmoid": (2, 2), "silu": (3, 2), "recurrence": (2, 2), "mul": (1, 0),
}


def _ops(*terms):
    """Sum of ``count * ELEMENT_OPS[name]`` over (count, name) terms -> (mults, adds)."""
    m = sum(n * ELEMENT_OPS[k][0] for n, k in terms)
    a = sum(n * ELEMENT_OPS[k][1] for n, k in terms)
    return m, a


def block_steps(shape: ModelShape) -> list:
    """The steps of one block: ("vector", name, (mults, adds)) or ("matrix", name, rows, cols)."""
    d, i = shape.d, shape.glu_width
    norm = lambda n: [(n, "rmsnorm"), (n, "quantize")]  # noqa: E731
    return [
        ("vector", "mlgru_norm", _ops(*norm(d))),
        ("matrix", "mlgru_fcg", 3 * d, d),
        ("vector", "mlgru_elem", _ops((3 * d, "rescale"), (d, "sigmoid"), (d, "silu"), (d, "recurrence"),
                                      (d, "sigmoid"), (d, "mul"), *norm(d))),
        ("matrix", "mlgru_o", d, d),
        ("vector", "glu_norm", _ops((d, "rescale"), (d, "residual"), *norm(d))),
        ("matrix", "glu_gate_up", 2 * i, d),
        ("vector", "glu_elem", _ops((2 * i, "rescale"), (i, "silu"), (i, "mul"), *norm(i))),
        ("matrix", "glu_down", d, i),
        ("vector", "residual", _ops((d, "rescale"), (d, "residual"))),
    ]


def _vector_phase(spec, name, mults, adds) -> Phase:
    e = spec.energy_pj
    actions, energy = priced_items((("vector", "fp16_mult", mults, e["fp16_mult"]),
                                    ("vector", "fp16_add", adds, e["fp16_add"])))
    task = Task(name="elementwise", unit="vector", cycles=-(-(mults + adds) // spec.vector_lanes),
                actions=actions, energy_pj=energy, active_pe_cycles=float(mults + adds))
    return Phase(name, (task,), 1)


def _matrix_tile_tasks(spec, rows: int, cols: int) -> tuple:
    """The two tasks of one tile of ``rows x cols``: weight stream, then the unit's command."""
    e, p = spec.energy_pj, spec.lanes
    timing = TernaryTiming(p)
    chunks = timing.chunks(cols)
    bits = rows * cols * spec.weight_bits
    words_per_beat = -(-(p * spec.act_width) // 32)
    nonzero = rows * cols * (1.0 - spec.zero_weight_fraction)
    moved, moved_pj = dram_transfer(read_bytes=bits / 8, pj_per_byte=e["dram_read_32b"] / 4)
    load = Task(name="weights", unit="dram", cycles=transfer_cycles(bits, spec.dram_bits_per_cycle),
                latency=spec.dram_latency_cycles, deps=(Dep("matvec", 2),),
                actions=moved, energy_pj=moved_pj)
    actions, energy = priced_items((
        ("ternary", "lane_add", nonzero, e["add8"]),
        ("ternary", "gated_lane", rows * cols - nonzero, 0.0),
        ("ternary", "tree_add", rows * chunks * (p - 1), e["add16"]),
        ("ternary", "acc_add", rows * chunks, e["add32"]),
        ("act_buffer", "read", rows * chunks * words_per_beat, e["sram_read_32b"]),
        ("act_buffer", "write", chunks * words_per_beat, e["sram_read_32b"]),  # assumption: a write costs a read
    ))
    matvec = Task(name="matvec", unit="ternary", cycles=timing.cycles(rows, cols), deps=(Dep("weights", 0),),
                  actions=actions, energy_pj=energy, active_pe_cycles=float(rows * cols))
    return load, matvec


def _matrix_phases(spec, name, rows, cols) -> list:
    tile = min(spec.tile_rows, rows)
    full, rest = divmod(rows, tile)
    phases = [Phase(name, _matrix_tile_tasks(spec, tile, cols), full)]
    if rest:
        phases.append(Phase(f"{name}_tail", _matrix_tile_tasks(spec, rest, cols), 1))
    return phases


def unit_area_mm2(spec, shape: ModelShape) -> float:
    """Area (mm^2, 45 nm) of the ternary unit sized for ``shape``: its activation buffer holds the
    widest input vector, ``max(d, I)`` activations rounded up to whole beats. The vector unit,
    the weight tile buffers and the DRAM interface are not included."""
    from arch.mmfree import unit_area_um2

    cols = max(shape.d, shape.glu_width)
    buffer_bits = -(-cols // spec.lanes) * spec.lanes * spec.act_width
    return unit_area_um2(spec.lanes, buffer_bits) * 1e-6


def model_shape(model=None, *, layers=None, d=None) -> ModelShape:
    """A published size by name (``370M``, ``1.3B``, ``2.7B``), optionally with ``layers`` or
    ``d`` replaced; or a custom shape from ``layers`` and ``d``."""
    if model is None:
        if layers is None or d is None:
            raise WorkloadError("mmfree: give 'model' (370M, 1.3B, 2.7B) or both 'layers' and 'd'")
        base = ModelShape(layers, d)
    elif model not in MODELS:
        raise WorkloadError(f"mmfree: 'model' must be one of {', '.join(MODELS)}, not {model!r}")
    else:
        base = MODELS[model]
    shape = ModelShape(layers if layers is not None else base.layers, d if d is not None else base.d)
    for k in ("layers", "d"):
        v = getattr(shape, k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise WorkloadError(f"mmfree: '{k}' must be a positive integer, not {v!r}")
    return shape


def lower(spec, shape: ModelShape, *, tokens: int = 1) -> TaskGraph:
    """The task graph of ``tokens`` decoding steps of ``shape`` on ``spec`` (an MmfreeSpec)."""
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise WorkloadError(f"mmfree: 'tokens' must be a positive integer, not {tokens!r}")
    block = []
    for step in block_steps(shape):
        if step[0] == "vector":
            block.append(_vector_phase(spec, step[1], *step[2]))
        else:
            block.extend(_matrix_phases(spec, step[1], step[2], step[3]))
    phases = tuple(block) * (shape.layers * tokens)
    meta = {"layers": shape.layers, "d": shape.d, "glu_width": shape.glu_width, "tokens": tokens,
            "weights": shape.weights, "lanes": spec.lanes}
    return TaskGraph(phases=phases, units={"dram": 1, "ternary": spec.lanes, "vector": spec.vector_lanes},
                     clock_hz=spec.clock_hz, meta=meta)


#: The published FPGA point (Zhu et al., arXiv 2406.02528, v1-v5): one core on a Stratix 10 at
#: 60 MHz reading 8 bits per cycle from DDR completes a d = 512 block forward pass in 43 ms.
FPGA_POINT = {"clock_mhz": 60, "dram_bits": 8, "d": 512, "block_ms": 43.0}


def calibration(run, base_spec_loader, *, lanes: int = 4) -> dict:
    """Our figure for the published FPGA point and the counts that explain the difference.

    Parameters
    ----------
    run : callable(TaskGraph) -> Report
        A cost engine (``sim.analytical.run`` or ``sim.des.run``).
    base_spec_loader : callable(overrides: dict) -> MmfreeSpec
        Loads the ``mmfree`` spec with overrides (``arch.registry.load_arch`` bound to a preset).
    lanes : int
        Lanes of the core (4: the 8-bit weight stream carries four 2-bit weights per cycle).
    """
    fp = FPGA_POINT
    spec = base_spec_loader({"clock_mhz": fp["clock_mhz"], "dram_bits": fp["dram_bits"], "lanes": lanes})
    shape = ModelShape(1, fp["d"])
    report = run(lower(spec, shape))
    ours_ms = report.seconds * 1e3
    published_cycles = fp["block_ms"] * 1e-3 * fp["clock_mhz"] * 1e6
    return {
        "d": fp["d"], "glu_width": shape.glu_width, "weights": shape.weights, "lanes": lanes,
        "clock_mhz": fp["clock_mhz"], "dram_bits_per_cycle": fp["dram_bits"],
        "ours_cycles": report.cycles, "ours_ms": ours_ms, "published_ms": fp["block_ms"],
        "published_over_ours": fp["block_ms"] / ours_ms,
        "stream_floor_ms": shape.weights * spec.weight_bits / fp["dram_bits"] / (fp["clock_mhz"] * 1e6) * 1e3,
        "published_cycles_per_weight": published_cycles / shape.weights,
        "published_memory_bits_per_weight": published_cycles * fp["dram_bits"] / shape.weights,
    }
