"""The analytical engine on lowered mapped Einsums: conservation of work and traffic.

Expected values come from the cascade's own op counts (``Cascade.op_counts``, checked against
the functional evaluator in the cascade tests) and from closed forms written here.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.registry import load_arch
from mappings import library
from mappings.mapper import search
from mappings.mapping import EinsumMapping, Mapping, gemm_shape, shapes_from_cascade
from sim.analytical import run
from sim.lower import ANALYTICAL, cost, lower, refetch

ATTN_SHAPE = {"M": 64, "P": 64, "E": 16, "F": 16, "M0": 16}
ONE_D = {"RM", "PRM", "SPD", "RD", "SPNV", "RNV", "AV"}  # FuseMax binding, docs/sources.md#fusemax-mapping


@pytest.fixture(scope="module")
def fusemax():
    return load_arch("fusemax")


def _compute_counts(report, units=("pe2d", "pe1d")):
    out = {}
    for (comp, op), n in report.actions.items():
        if comp in units:
            out[op] = out.get(op, 0) + n
    return out


@pytest.mark.parametrize("arch", ["fusemax", "flat-edge"])
@pytest.mark.parametrize("M,N,K", [(256, 256, 64), (300, 77, 130), (1, 1000, 3)])
def test_gemm_compute_counts_and_compulsory_traffic(arch, M, N, K):
    spec = load_arch(arch)
    shape = gemm_shape(M, N, K)
    best = search(spec, shape, ANALYTICAL, "latency").best
    report = run(lower(spec, shape, best))
    cascade_counts = library.gemm().op_counts({"M": M, "N": N, "K": K})
    assert report.actions[("pe2d", "mac")] == pytest.approx(M * N * K, rel=1e-12)
    assert report.actions[("pe2d", "mac")] == pytest.approx(cascade_counts["mac"], rel=1e-12)
    assert report.dram_bytes >= (M * K + K * N + M * N) * 2  # 16-bit words moved at least once
    # Energy of the MACs is count x the Accelergy 45 nm MAC figure (docs/sources.md#fusemax-energy).
    assert report.energy_pj_by[("pe2d", "mac")] == pytest.approx(M * N * K * 17.16)
    # Cycles can beat neither the array's MAC rate nor the DRAM bandwidth.
    pes = spec.compute["pe2d"].pes
    bw = spec.dram.bw_bytes_per_cycle(spec.clock_hz)
    assert report.cycles >= math.ceil(M * N * K / pes)
    assert report.cycles >= report.dram_bytes / bw
    assert 0 < report.utilization["pe2d"] <= 1


def _attention(fusemax, fused):
    cascade = library.attention(passes=1, deferred_division=True)
    shapes = shapes_from_cascade(cascade, ATTN_SHAPE)
    ems = [EinsumMapping(n, "pe1d" if n in ONE_D else "pe2d") for n in shapes]
    mapping = Mapping(ems, fusion=(tuple(shapes),) if fused else ())
    return cascade, run(lower(fusemax, shapes, mapping))


@pytest.mark.parametrize("fused", [True, False])
def test_attention_compute_counts_equal_cascade_op_counts(fusemax, fused):
    cascade, report = _attention(fusemax, fused)
    expected = {op: n for op, n in cascade.op_counts(ATTN_SHAPE).items() if n}
    got = _compute_counts(report)
    assert got.keys() == expected.keys()
    for op, n in expected.items():
        assert got[op] == pytest.approx(n, rel=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_closed_form_cascade_cost_equals_the_engine(fusemax, fused):
    from sim.lower import cost_mapping

    cascade = library.attention(passes=1, deferred_division=True)
    shapes = shapes_from_cascade(cascade, {"M": 1000, "P": 300, "E": 64, "F": 64, "M0": 256})
    ems = [EinsumMapping(n, "pe1d" if n in ONE_D else "pe2d", (("P", 256),),
                         {"glb": {"P": 256}}, tuple(s.ranks)) for n, s in shapes.items()]
    mapping = Mapping(ems, fusion=(tuple(shapes),) if fused else ())
    report = run(lower(fusemax, shapes, mapping))
    cycles, energy = cost_mapping(fusemax, shapes, mapping)
    assert cycles == report.cycles and energy == pytest.approx(report.energy_pj, rel=1e-12)


def test_attention_dram_traffic(fusemax):
    M, P, E, F = (ATTN_SHAPE[k] for k in "MPEF")
    compulsory = (E * P + E * M + F * M + F * P) * 2  # Q, K, V read once, AV written once
    _, fused = _attention(fusemax, True)
    _, unfused = _attention(fusemax, False)
    # Fused with whole-rank tiles, only the cascade's inputs and output cross the DRAM boundary.
    assert fused.dram_bytes == compulsory
    # Unfused, every intermediate goes out to DRAM and comes back: strictly more.
    assert unfused.dram_bytes > compulsory
    assert fused.energy_pj < unfused.energy_pj


@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 600), N=st.integers(1, 600), K=st.integers(1, 600),
       tm=st.integers(1, 600), tn=st.integers(1, 600), tk=st.integers(1, 600),
       order=st.permutations(["M", "N", "K"]))
def test_closed_form_cost_equals_the_engine(M, N, K, tm, tn, tk, order):
    spec = load_arch("flat-edge")
    shape = gemm_shape(M, N, K)
    sm, sn = min(32, M, tm), min(32, N, tn)
    m = EinsumMapping("Z", "pe2d", (("M", sm), ("N", sn)),
                      {"glb": {"M": min(tm, M), "N": min(tn, N), "K": min(tk, K)}}, tuple(order))
    report = run(lower(spec, shape, m, check_first=False))
    cycles, energy = cost(spec, shape, m)
    assert cycles == report.cycles
    assert energy == pytest.approx(report.energy_pj, rel=1e-12)
    assert report.actions[("pe2d", "mac")] == pytest.approx(M * N * K, rel=1e-9)


def test_refetch_rule():
    counts = {"M": 4, "N": 3, "K": 5}
    # A[m,k] under loops M, N, K: the N loop sits outside K, so A comes back 3 times.
    assert refetch(("M", "N", "K"), counts, ("M", "K")) == 3
    # Z[m,n] under loops M, N, K: K is innermost and does not index Z: Z stays resident.
    assert refetch(("M", "N", "K"), counts, ("M", "N")) == 1
    # Z under K, M, N: the K loop is outside, Z is revisited 5 times.
    assert refetch(("K", "M", "N"), counts, ("M", "N")) == 5
    # A loop that runs once changes nothing.
    assert refetch(("N", "M", "K"), {"M": 4, "N": 1, "K": 5}, ("M", "K")) == 1


def test_lone_task_phase_bound_by_hand():
    from sim.analytical import phase_bound
    from sim.taskgraph import Phase, Task

    # Runs in iterations 1, 3, 5 of 7: three instances of 5 cycles, then 3 cycles of latency.
    assert phase_bound(Phase("p", (Task("t", "u", 5, latency=3, every=2, offset=1),), 7)) == 18
    assert phase_bound(Phase("p", (Task("t", "u", 5, latency=3, every=9, offset=8),), 7)) == 0


def test_buffer_bandwidth_throttles_the_array():
    M = N = K = 256
    shape = gemm_shape(M, N, K)
    m = EinsumMapping("Z", "pe2d", (("M", 32), ("N", 32)), {"glb": {"M": 128, "N": 128, "K": 256}}, ("M", "N", "K"))
    free = load_arch("flat-edge")
    slow = load_arch("flat-edge", {"storage.glb.bw_bytes_per_cycle": 1})
    r_free, r_slow = run(lower(free, shape, m)), run(lower(slow, shape, m))
    glb_bytes = sum(v for (c, _), v in r_slow.actions.items() if c == "glb") * 64  # 64-byte rows
    assert r_free.energy_pj == pytest.approx(r_slow.energy_pj)  # same actions
    assert r_slow.cycles >= glb_bytes  # 1 byte per cycle
    assert r_free.cycles < r_slow.cycles
    assert cost(slow, shape, m)[0] == r_slow.cycles


def test_span_bound_sees_a_unit_waiting_on_another_inside_an_iteration():
    """A (u1, 10) -> B (u2, 5) -> C (u1, 10) each iteration: in program order u1 cannot start the
    next A before C, and C waits for B, so every iteration costs 10 + 5 + 10 = 25 cycles, not the
    20 that u1's busy time alone would say. The DES finds the same schedule."""
    from sim import des
    from sim.analytical import phase_bound
    from sim.taskgraph import Dep, Phase, Task, TaskGraph

    n = 7
    ph = Phase("ping-pong", (Task("A", "u1", 10), Task("B", "u2", 5, deps=[Dep("A")]), Task("C", "u1", 10, deps=[Dep("B")])), n)
    assert phase_bound(ph) == 25 * n
    g = TaskGraph((ph,), {"u1": 1, "u2": 1}, clock_hz=1e9)
    assert des.run(g).cycles == 25 * n


def test_span_bound_with_guarded_epilogue():
    """The same ping-pong, plus a 3-cycle epilogue on u2 in every 4th iteration (offset 3) that
    the next iteration's A does not wait for: u1's spans are unchanged (25 a iteration), u2's
    epilogue overlaps u1's next iteration, so only the last one can add to the end."""
    from sim import des
    from sim.analytical import phase_bound
    from sim.taskgraph import Dep, Phase, Task, TaskGraph

    n = 8
    ph = Phase("p", (Task("A", "u1", 10), Task("B", "u2", 5, deps=[Dep("A")]), Task("C", "u1", 10, deps=[Dep("B")]),
                     Task("E", "u2", 3, deps=[Dep("C")], every=4, offset=3)), n)
    g = TaskGraph((ph,), {"u1": 1, "u2": 1}, clock_hz=1e9)
    assert phase_bound(ph) == 25 * n + 3
    assert des.run(g).cycles == 25 * n + 3
