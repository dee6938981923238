"""The MatMul-free LM lowered onto the ternary accelerator: shapes, counts, cycles and energy
against closed forms derived here, both engines, and the FPGA calibration point."""

import math

import pytest

from arch.errors import WorkloadError
from arch.registry import load_arch
from sim import analytical
from sim.des import run as des_run
from sim.mmfree import FPGA_POINT, MODELS, ModelShape, calibration, lower, model_shape


@pytest.mark.parametrize("d, width", [(512, 1536), (1024, 2816), (2048, 5632), (2560, 6912)])
def test_glu_width(d, width):
    # I = 256 * ceil(int(8d/3) / 256): 8*1024/3 = 2730.67 -> 2730 -> 11 * 256 = 2816
    assert ModelShape(1, d).glu_width == width


def test_published_sizes_and_weight_counts():
    assert {k: (v.layers, v.d) for k, v in MODELS.items()} == {"370M": (24, 1024), "1.3B": (24, 2048), "2.7B": (32, 2560)}
    # 4 d^2 + 3 d I per block
    assert MODELS["370M"].weights == 24 * (4 * 1024 ** 2 + 3 * 1024 * 2816) == 308_281_344
    # the ternary weights are most of each model's parameters (embeddings and head excluded)
    assert 0.6e9 < MODELS["1.3B"].weights < 1.3e9 and 1.8e9 < MODELS["2.7B"].weights < 2.7e9


def spec_fpga():
    return load_arch("mmfree", {"lanes": 4, "clock_mhz": 60, "dram_bits": 8})


def test_cycles_of_one_block_by_hand():
    """d = 512, 4 lanes, 8 bits/cycle, 64-row tiles, DRAM latency 40 (the preset's).

    Per matrix step of n tiles, load L = 64 cols 2 / 8 cycles, compute C = (64 + 1) ceil(cols/4)
    + ceil(log2 4) + 3 (the unit's cycle model): compute-bound (C > L), so the step takes
    L + 40 + n C (first load, its latency, then back-to-back products). Vector steps take
    ceil(ops / 16)."""
    def step(rows, cols):
        n, L, C = rows // 64, 64 * cols * 2 // 8, 65 * math.ceil(cols / 4) + 2 + 3
        assert C > L
        return L + 40 + n * C
    d, i = 512, 1536
    matrices = step(3 * d, d) + step(d, d) + step(2 * i, d) + step(d, i)
    # fp16 ops per element: rmsnorm 4, quantize 2, rescale 1, residual 1, sigmoid 4, silu 5,
    # recurrence 4, mul 1
    vector_ops = [d * 6, 3 * d + d * (4 + 5 + 4 + 4 + 1) + d * 6, d * (1 + 1 + 6), 2 * i + i * (5 + 1) + i * 6, d * 2]
    expected = matrices + sum(math.ceil(v / 16) for v in vector_ops)
    graph = lower(spec_fpga(), ModelShape(1, d))
    assert analytical.run(graph).cycles == expected == 917_752
    assert des_run(graph).cycles == expected


def test_counts_and_energy_follow_the_weights():
    spec = load_arch("mmfree")
    shape = model_shape("370M", layers=2)
    graph = lower(spec, shape, tokens=2)
    a, d = analytical.run(graph), des_run(graph)
    w = shape.weights * 2                                    # two tokens stream every weight twice
    assert a.dram_bytes == d.dram_bytes == w * 2 // 8        # 2 bits per weight
    assert a.actions[("ternary", "lane_add")] + a.actions[("ternary", "gated_lane")] == pytest.approx(w)
    assert a.actions[("ternary", "gated_lane")] == pytest.approx(0.31 * w)
    assert a.energy_breakdown()["dram"] == pytest.approx(w * 2 / 32 * 640)     # 640 pJ per 32 bits
    assert a.energy_pj == pytest.approx(d.energy_pj)
    assert d.cycles >= a.cycles


def test_more_lanes_are_faster_until_the_weight_stream_binds():
    spec = lambda p: load_arch("mmfree", {"lanes": p})  # noqa: E731   128 bits/cycle = 64 weights/cycle
    shape = ModelShape(1, 1024)
    cyc = {p: analytical.run(lower(spec(p), shape)).cycles for p in (4, 16, 64, 128)}
    assert cyc[4] > cyc[16] > cyc[64]
    floor = shape.weights * 2 / 128                      # the DRAM stream alone
    assert cyc[128] >= floor and cyc[128] == pytest.approx(cyc[64], rel=0.05)


def test_calibration_against_the_fpga_point():
    cal = calibration(analytical.run, lambda ov: load_arch("mmfree", ov))
    assert cal["published_ms"] == FPGA_POINT["block_ms"] == 43.0
    assert cal["weights"] == 4 * 512 ** 2 + 3 * 512 * 1536 == 3_407_872
    # the weight stream alone: 3,407,872 x 2 bits / 8 bits per cycle / 60 MHz = 14.2 ms
    assert cal["stream_floor_ms"] == pytest.approx(3_407_872 * 2 / 8 / 60e6 * 1e3)
    assert cal["ours_ms"] == pytest.approx(917_752 / 60e6 * 1e3)
    assert cal["published_over_ours"] == pytest.approx(43.0 / cal["ours_ms"])
    # 43 ms at 60 MHz is 2.58 M cycles: 6.06 bits of 8-bit-wide memory traffic per weight
    assert cal["published_memory_bits_per_weight"] == pytest.approx(43e-3 * 60e6 * 8 / 3_407_872)


def test_bad_workloads_are_named():
    with pytest.raises(WorkloadError, match=r"^mmfree: 'model' must be one of 370M, 1.3B, 2.7B, not '7B'$"):
        model_shape("7B")
    with pytest.raises(WorkloadError, match=r"^mmfree: 'd' must be a positive integer, not 0$"):
        model_shape("370M", d=0)
    with pytest.raises(WorkloadError, match=r"^mmfree: 'tokens' must be a positive integer, not 0$"):
        lower(load_arch("mmfree"), MODELS["370M"], tokens=0)


def test_unit_area_grows_with_lanes_and_buffer():
    from sim.mmfree import unit_area_mm2

    spec = load_arch("mmfree")
    # 370M: widest input is I = 2816 activations of 8 bits = 22,528 buffer bits on 64 lanes
    expect = (1725.7 + 348.9 * 64 + 8.425 * 2816 * 8) * 1e-6
    assert unit_area_mm2(spec, MODELS["370M"]) == pytest.approx(expect)
    assert unit_area_mm2(spec, MODELS["2.7B"]) > unit_area_mm2(spec, MODELS["370M"])


def test_every_matrix_task_costs_what_the_unit_takes():
    # The unit's command for one tile, stepped cycle by cycle (the model the RTL tests prove
    # equal to the Verilog), is exactly the task's occupancy in the graph.
    from sim.ternary import simulate_cycles

    spec = load_arch("mmfree", {"lanes": 5, "tile_rows": 48})
    graph = lower(spec, ModelShape(1, 256))
    matvecs = [(ph, t) for ph in graph.phases for t in ph.tasks if t.name == "matvec"]
    assert matvecs
    for ph, t in matvecs:
        cols = 768 if ph.name.startswith("glu_down") else 256       # I = 256 ceil(682 / 256) = 768
        rows = round(t.active_pe_cycles / cols)                      # one useful lane-cycle per weight
        assert t.cycles == simulate_cycles(rows, cols, 5).cycles, ph.name
    # 768 = 3 x 256 rows of f, c, g split into 48-row tiles: 16 tiles, no tail
    fcg = [ph for ph in graph.phases if ph.name.startswith("mlgru_fcg")]
    assert [ph.iterations for ph in fcg] == [16]
    # the GLU's 2I = 1536 rows: 32 tiles of 48, no tail; d = 256 rows of down: 5 tiles + a tail of 16
    assert [ph.iterations for ph in graph.phases if ph.name.startswith("glu_down")] == [5, 1]
