"""Bandwidth limits (roofline), the Chrome trace, and agreement with SCALE-Sim via sim/systolic.py."""

import json

import pytest

from arch.errors import SimulationError
from arch.registry import load_arch
from sim import analytical, des
from sim.des.resources import DramTiming
from sim.taskgraph import Dep, Phase, Task, TaskGraph

TILE_BYTES = 4096
COMPUTE_CYCLES = 256
N = 2000


def tiled_gemm(bw_bytes_per_cycle: float) -> TaskGraph:
    """Double-buffered tiles: DRAM read (bytes / bw cycles, 100-cycle latency) -> PE array."""
    dram = DramTiming(bw_bytes_per_cycle, latency_cycles=100)
    load = dram.transfer_task("load", "dram0", TILE_BYTES, deps=(Dep("mm", 2),), pj_per_byte=20.0)
    mm = Task("mm", "pe", COMPUTE_CYCLES, deps=(Dep("load", 0),), energy_pj={("pe", "mac"): 1000.0})
    return TaskGraph(phases=(Phase("tiles", (load, mm), N),), units={"dram0": 1, "pe": 1024}, clock_hz=1e9)


@pytest.mark.parametrize("bw", [2**-4, 2**-2, 1, 4, 16, 64, 256, 4096])
def test_time_is_at_least_each_roof(bw):
    r = des.run(tiled_gemm(bw))
    assert r.cycles >= N * TILE_BYTES / bw
    assert r.cycles >= N * COMPUTE_CYCLES
    assert r.cycles >= analytical.run(tiled_gemm(bw)).cycles


def test_roofline_limits_on_a_bandwidth_sweep():
    sweep = [2**k for k in range(-6, 14)]
    ratio_mem = [des.run(tiled_gemm(bw)).cycles / (N * TILE_BYTES / bw) for bw in sweep]
    ratio_cmp = [des.run(tiled_gemm(bw)).cycles / (N * COMPUTE_CYCLES) for bw in sweep]
    # bandwidth -> 0: time -> bytes / bandwidth (the ratio falls to 1 monotonically)
    assert ratio_mem[0] == pytest.approx(1.0, abs=1e-3)
    assert all(a <= b for a, b in zip(ratio_mem, ratio_mem[1:]))
    # bandwidth -> infinity: time -> compute time
    assert ratio_cmp[-1] == pytest.approx(1.0, abs=2e-3)
    assert all(a >= b for a, b in zip(ratio_cmp, ratio_cmp[1:]))
    # At the ridge (bytes / bw == compute cycles) the two slots cannot hide the DRAM latency:
    # a slot cycles through load + latency + compute, so with 2 slots each tile costs
    # max(load, compute, (load + 100 + compute) / 2) = 306 cycles instead of 256.
    ridge = TILE_BYTES / COMPUTE_CYCLES
    assert des.run(tiled_gemm(ridge)).cycles == pytest.approx(N * (256 + 100 + 256) / 2, rel=1e-3)


def test_dram_timing_rejects_bad_values():
    with pytest.raises(SimulationError, match="'bw_bytes_per_cycle' must be positive, not 0"):
        DramTiming(0)
    with pytest.raises(SimulationError, match="'latency_cycles' must be a non-negative integer, not -1"):
        DramTiming(1, -1)
    assert DramTiming(3).transfer_cycles(10) == 4


# ---------------------------------------------------------------------------------- trace

def test_trace_is_chrome_json_with_one_track_per_unit(tmp_path):
    g = TaskGraph(phases=(Phase("p", (
        Task("ld", "dram0", 4, latency=2, deps=(Dep("mm", 2),)),
        Task("mm", "pe2d", 6, deps=(Dep("ld", 0),)),
        Task("st", "dram1", 3, deps=(Dep("mm", 0),)),
    ), 50),), units={"dram0": 1, "pe2d": 64, "dram1": 1, "idle_port": 1}, clock_hz=500e6)
    out = tmp_path / "out.json"
    r = des.run(g, trace=str(out), fast_forward=False)
    doc = json.loads(out.read_text())
    ev = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
    assert sorted(names.values()) == sorted(g.units)  # every unit has its track, idle ones too
    xs = [e for e in ev if e["ph"] == "X"]
    assert len(xs) == r.simulated_steps == 150
    assert {names[e["tid"]] for e in xs} == {"dram0", "pe2d", "dram1"}
    assert all(e["pid"] == 1 for e in xs)
    # ts and dur are microseconds of simulated time: cycles / 500 MHz
    for e in xs:
        assert e["ts"] == pytest.approx(e["args"]["start_cycle"] / 500)
        assert e["dur"] == pytest.approx((e["args"]["end_cycle"] - e["args"]["start_cycle"]) / 500)
    # on one track, slices never overlap (one task at a time per unit)
    for tid in names:
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in xs if e["tid"] == tid)
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:]))
    assert max(e["args"]["end_cycle"] for e in xs) <= r.cycles


def test_trace_of_a_fast_forwarded_run_holds_the_simulated_part(tmp_path):
    g = TaskGraph(phases=(Phase("p", (Task("a", "u", 3), Task("b", "v", 5, deps=(Dep("a", 0),))), 10**6),),
                  units={"u": 1, "v": 1}, clock_hz=1e9)
    out = tmp_path / "ff.json"
    r = des.run(g, trace=str(out))
    xs = [e for e in json.loads(out.read_text())["traceEvents"] if e["ph"] == "X"]
    assert len(xs) == r.simulated_steps < 1000


def test_unwritable_trace_path_is_one_clear_error(tmp_path):
    g = TaskGraph(phases=(Phase("p", (Task("a", "u", 3),), 2),), units={"u": 1}, clock_hz=1e9)
    with pytest.raises(SimulationError, match=r"trace: cannot write '.*missing/out.json': No such file or directory"):
        des.run(g, trace=str(tmp_path / "missing" / "out.json"))


# ------------------------------------------------------------------------- systolic GEMM

@pytest.mark.parametrize("dataflow, scalesim_cycles", [
    # SCALE-Sim 3 "Total Cycles", 32 x 32 array, M=256, N=128, K=256, CALC mode
    # (docs/sources.md#scalesim-examples).
    ("ws", 11199), ("os", 10175), ("is", 14207),
])
def test_des_matches_scalesim_on_a_systolic_gemm(dataflow, scalesim_cycles):
    from sim.systolic import lower_gemm

    spec = load_arch("systolic", {"rows": 32, "cols": 32, "dataflow": dataflow})
    g = lower_gemm(spec, 256, 128, 256)
    d, a = des.run(g), analytical.run(g)
    assert d.cycles == scalesim_cycles == a.cycles
    assert d.energy_pj == a.energy_pj and d.actions == a.actions
