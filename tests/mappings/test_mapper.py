"""The mapper: finds valid mappings, respects bounds derived by hand, reports its work."""

import math

import pytest

from arch.errors import MappingError
from arch.registry import load_arch
from mappings.mapper import candidates, search
from mappings.mapping import EinsumShape, check_einsum, gemm_shape
from sim.lower import cost


@pytest.fixture(scope="module")
def fusemax():
    return load_arch("fusemax")


def test_best_latency_lies_between_hand_bounds(fusemax):
    M, N, K = 256, 256, 64
    res = search(fusemax, gemm_shape(M, N, K), cost, "latency")
    check_einsum(res.best, gemm_shape(M, N, K), fusemax)
    bw = 400 * 2**30 / 940e6  # bytes per cycle (REFERENCE.md s.1)
    compulsory = (M * K + K * N + M * N) * 2  # 16-bit words, each tensor moved once
    # No mapping beats the DRAM time of the compulsory traffic or K MAC steps of a 256 x 256 array;
    assert res.cycles >= math.ceil(compulsory / bw) and res.cycles >= K
    # and the one-tile mapping (load everything, then K steps) is in the search space.
    assert res.cycles <= math.ceil(compulsory / bw) + K


def test_objectives_trade_off(fusemax):
    shape = gemm_shape(1024, 512, 256)
    lat = search(fusemax, shape, cost, "latency")
    en = search(fusemax, shape, cost, "energy")
    edp = search(fusemax, shape, cost, "edp")
    assert lat.cycles <= en.cycles and en.energy_pj <= lat.energy_pj
    assert edp.cycles * edp.energy_pj <= min(lat.cycles * lat.energy_pj, en.cycles * en.energy_pj)


def test_search_reports_its_work_and_is_deterministic(fusemax):
    shape = gemm_shape(300, 200, 100)
    a = search(fusemax, shape, cost, "edp")
    b = search(fusemax, shape, cost, "edp")
    assert a.best == b.best and a.cycles == b.cycles
    assert a.evaluated + a.rejected == sum(1 for _ in candidates(fusemax, shape))
    assert a.evaluated > 0 and a.seconds > 0 and a.rate_per_s > 0
    capped = search(fusemax, shape, cost, "edp", max_evaluations=5)
    assert capped.evaluated == 5


def test_binds_to_a_unit_that_has_the_operators(fusemax):
    shape = EinsumShape("AV", {"F": 64, "P": 1024}, {"RNV": ("F", "P"), "RD": ("P",), "AV": ("F", "P")}, "AV",
                        {"div": 64 * 1024})
    assert search(fusemax, shape, cost).best.unit == "pe1d"


def test_errors():
    systolic = load_arch("systolic")
    shape = EinsumShape("E", {"M": 4}, {"X": ("M",), "E": ("M",)}, "E", {"exp": 4})
    with pytest.raises(MappingError) as err:
        search(systolic, shape, cost)
    assert str(err.value) == "einsum 'E': no valid mapping on this spec (no compute unit has its operators)"
    with pytest.raises(MappingError) as err:
        search(systolic, gemm_shape(4, 4, 4), cost, "speed")
    assert str(err.value) == "'objective' must be one of latency, energy, edp, not 'speed'"


def test_cascade_search_fused_and_unfused(fusemax):
    from mappings import library
    from mappings.mapper import search_cascade
    from mappings.mapping import check, shapes_from_cascade
    from sim.analytical import run
    from sim.lower import lower

    shape = {"M": 32, "P": 32, "E": 8, "F": 8, "M0": 8}
    shapes = shapes_from_cascade(library.attention(passes=1, deferred_division=True), shape)
    unfused = search_cascade(fusemax, shapes, cost, "latency")
    fused = search_cascade(fusemax, shapes, cost, "latency", fusion=(tuple(shapes),))
    check(fused.mapping, shapes, fusemax)
    assert fused.evaluated == sum(r.evaluated for r in fused.per_einsum)
    assert fused.mapping.of("AV").unit == "pe1d"  # the only unit with a divider
    r_f, r_u = run(lower(fusemax, shapes, fused.mapping)), run(lower(fusemax, shapes, unfused.mapping))
    compulsory = (8 * 32 * 4) * 2  # Q, K, V in and AV out, 8 x 32 words each, 2 bytes
    assert r_f.dram_bytes == compulsory < r_u.dram_bytes
    assert r_f.cycles < r_u.cycles
