"""The mapper: finds valid mappings, respects bounds derived by hand, reports its work."""

import math

import pytest

from arch.errors import MappingError
from arch.registry import load_arch
from mappings.mapper import candidates, search
from mappings.mapping import EinsumShape, check_einsum, gemm_shape
from sim.lower import ANALYTICAL, cost


@pytest.fixture(scope="module")
def fusemax():
    return load_arch("fusemax")


def test_best_latency_lies_between_hand_bounds(fusemax):
    M, N, K = 256, 256, 64
    res = search(fusemax, gemm_shape(M, N, K), ANALYTICAL, "latency")
    check_einsum(res.best, gemm_shape(M, N, K), fusemax)
    bw = 400 * 2**30 / 940e6  # bytes per cycle (docs/sources.md#fusemax-arch)
    compulsory = (M * K + K * N + M * N) * 2  # 16-bit words, each tensor moved once
    # No mapping beats the DRAM time of the compulsory traffic or K MAC steps of a 256 x 256 array;
    assert res.cycles >= math.ceil(compulsory / bw) and res.cycles >= K
    # and the one-tile mapping (load everything, then K steps) is in the search space.
    assert res.cycles <= math.ceil(compulsory / bw) + K


def test_objectives_trade_off(fusemax):
    shape = gemm_shape(1024, 512, 256)
    lat = search(fusemax, shape, ANALYTICAL, "latency")
    en = search(fusemax, shape, ANALYTICAL, "energy")
    edp = search(fusemax, shape, ANALYTICAL, "edp")
    assert lat.cycles <= en.cycles and en.energy_pj <= lat.energy_pj
    assert edp.cycles * edp.energy_pj <= min(lat.cycles * lat.energy_pj, en.cycles * en.energy_pj)


def test_search_reports_its_work_and_is_deterministic(fusemax):
    shape = gemm_shape(300, 200, 100)
    a = search(fusemax, shape, ANALYTICAL, "edp")
    b = search(fusemax, shape, ANALYTICAL, "edp")
    assert a.best == b.best and a.cycles == b.cycles
    assert a.evaluated + a.rejected + a.pruned == sum(1 for _ in candidates(fusemax, shape))
    assert a.evaluated > 0 and a.pruned > 0 and a.seconds > 0 and a.rate_per_s > 0
    full = search(fusemax, shape, ANALYTICAL, "edp", exhaustive=True)
    assert full.pruned == 0 and full.evaluated + full.rejected == sum(1 for _ in candidates(fusemax, shape))
    capped = search(fusemax, shape, ANALYTICAL, "edp", max_evaluations=5)
    assert capped.evaluated == 5 and capped.pruned == 0
    # The cap keeps the enumeration order: the best of the first five valid candidates.
    first5 = [m for m in candidates(fusemax, shape)][:5]
    ref = min(first5, key=lambda m: (lambda c, e: (c * e, c))(*cost(fusemax, shape, m)))
    assert capped.best == ref


def test_binds_to_a_unit_that_has_the_operators(fusemax):
    shape = EinsumShape("AV", {"F": 64, "P": 1024}, {"RNV": ("F", "P"), "RD": ("P",), "AV": ("F", "P")}, "AV",
                        {"div": 64 * 1024})
    assert search(fusemax, shape, ANALYTICAL).best.unit == "pe1d"


def test_errors():
    systolic = load_arch("systolic")
    shape = EinsumShape("E", {"M": 4}, {"X": ("M",), "E": ("M",)}, "E", {"exp": 4})
    with pytest.raises(MappingError) as err:
        search(systolic, shape, ANALYTICAL)
    assert str(err.value) == "einsum 'E': no valid mapping on this spec (no compute unit has its operators)"
    with pytest.raises(MappingError) as err:
        search(systolic, gemm_shape(4, 4, 4), ANALYTICAL, "speed")
    assert str(err.value) == "'objective' must be one of latency, energy, edp, not 'speed'"


def test_cascade_search_fused_and_unfused(fusemax):
    from mappings import library
    from mappings.mapper import search_cascade
    from mappings.mapping import check, shapes_from_cascade
    from sim.analytical import run
    from sim.lower import lower

    shape = {"M": 32, "P": 32, "E": 8, "F": 8, "M0": 8}
    shapes = shapes_from_cascade(library.attention(passes=1, deferred_division=True), shape)
    unfused = search_cascade(fusemax, shapes, ANALYTICAL, "latency")
    fused = search_cascade(fusemax, shapes, ANALYTICAL, "latency", fusion=(tuple(shapes),))
    check(fused.mapping, shapes, fusemax)
    assert fused.evaluated == sum(r.evaluated for r in fused.per_einsum)
    assert fused.mapping.of("AV").unit == "pe1d"  # the only unit with a divider
    r_f, r_u = run(lower(fusemax, shapes, fused.mapping)), run(lower(fusemax, shapes, unfused.mapping))
    compulsory = (8 * 32 * 4) * 2  # Q, K, V in and AV out, 8 x 32 words each, 2 bytes
    assert r_f.dram_bytes == compulsory < r_u.dram_bytes
    assert r_f.cycles < r_u.cycles


def _brute_force(spec, shape, on_chip=frozenset()):
    """The reference: every candidate checked and costed once; per objective the first best in
    enumeration order (objective -> (mapping, (cycles, energy_pj)))."""
    keys = {"latency": lambda c, e: (c, e), "energy": lambda c, e: (e, c), "edp": lambda c, e: (c * e, c)}
    best = {}
    for m in candidates(spec, shape):
        try:
            check_einsum(m, shape, spec)
        except MappingError:
            continue
        c, e = cost(spec, shape, m, on_chip)
        for objective, key in keys.items():
            if objective not in best or key(c, e) < best[objective][0]:
                best[objective] = (key(c, e), m, (c, e))
    return {objective: (m, ce) for objective, (_, m, ce) in best.items()}


GEMMS = [(256, 256, 256), (300, 200, 100), (1, 1, 1), (3, 5, 7), (17, 1000, 33), (64, 8, 4096),
         (1000, 7, 3), (129, 65, 513)]


@pytest.mark.parametrize("preset", ["systolic", "fusemax", "flat"])
@pytest.mark.parametrize("MNK", GEMMS)
def test_pruned_search_equals_brute_force(preset, MNK):
    """Branch and bound returns the exhaustive search's mapping, cycles and energy (ties go to
    the first candidate of the enumeration in both) for every objective."""
    spec = load_arch(preset)
    shape = gemm_shape(*MNK)
    for objective, (ref, (c, e)) in _brute_force(spec, shape).items():
        res = search(spec, shape, ANALYTICAL, objective)
        assert (res.best, res.cycles, res.energy_pj) == (ref, c, e), objective
        assert res.pruned > 0 or MNK == (1, 1, 1)


@pytest.mark.parametrize("bw", [1, 64])
def test_pruned_search_equals_brute_force_with_a_buffer_bandwidth_limit(bw):
    """A global buffer that throttles the array (compute cycles from its bytes) is bounded too."""
    spec = load_arch("flat-edge", {"storage.glb.bw_bytes_per_cycle": bw})
    for MNK in ((200, 96, 130), (64, 512, 32)):
        shape = gemm_shape(*MNK)
        for objective, (ref, (c, e)) in _brute_force(spec, shape).items():
            res = search(spec, shape, ANALYTICAL, objective)
            assert (res.best, res.cycles, res.energy_pj) == (ref, c, e), (MNK, objective)


@pytest.mark.parametrize("latency", [50, 400])
def test_pruned_search_equals_brute_force_with_dram_latency(latency):
    """With a DRAM latency the cost is the steady state of the double-buffered tile pipeline
    (the slot recurrence through the latency may bind): its bound stays below every cost, so
    the branch and bound still returns the exhaustive search's mapping, cycles and energy."""
    spec = load_arch("fusemax", {"compute.pe2d.shape": [16, 16], "compute.pe1d.shape": [16],
                                 "dram.latency_cycles": latency})
    for MNK in ((256, 256, 256), (300, 200, 100), (64, 8, 4096)):
        shape = gemm_shape(*MNK)
        for objective, (ref, (c, e)) in _brute_force(spec, shape).items():
            res = search(spec, shape, ANALYTICAL, objective)
            assert (res.best, res.cycles, res.energy_pj) == (ref, c, e), (MNK, objective)


def test_pruned_search_equals_brute_force_with_tensors_on_chip(fusemax):
    shape = gemm_shape(96, 200, 48)
    for on_chip in ({"A"}, {"Z"}, {"A", "B", "Z"}):
        for objective, (ref, (c, e)) in _brute_force(fusemax, shape, on_chip).items():
            res = search(fusemax, shape, ANALYTICAL, objective, on_chip=on_chip)
            assert (res.best, res.cycles, res.energy_pj) == (ref, c, e), (on_chip, objective)


def test_bounds_never_exceed_the_cost(fusemax):
    """Every candidate's bound, and its spatial group's bound, is at most its cost; the bounds
    prune (most candidates' bounds exceed the best cost)."""
    import numpy as np

    from sim.lower import cost_bounds

    shape = gemm_shape(300, 70, 1000)
    systolic = load_arch("systolic")
    slow_dram = load_arch("fusemax", {"dram.latency_cycles": 300})
    for spec in (fusemax, systolic, slow_dram):
        ranks = tuple(shape.ranks)
        for unit in spec.compute:
            if not spec.compute[unit].supports("mac"):
                continue
            b = cost_bounds(spec, shape, unit)
            groups = {}
            for m in candidates(spec, shape, unit):
                groups.setdefault(m.spatial, []).append(m)
            for spatial, ms in groups.items():
                glb = next(iter(ms[0].tiles))
                tiles = np.array([[m.tiles[glb][r] for r in ranks] for m in ms])
                pos = np.array([[m.loop_order.index(r) for r in ranks] for m in ms])
                cyc, en = b.candidates(dict(spatial), tiles, pos)
                sc, se = b.spatial(dict(spatial))
                for m, lc, le in zip(ms, cyc, en):
                    c, e = cost(spec, shape, m)
                    assert sc <= c and se <= e and lc <= c and le <= e, m


def test_cascade_pruned_equals_exhaustive(fusemax):
    from mappings import library
    from mappings.mapper import search_cascade
    from mappings.mapping import shapes_from_cascade

    shapes = shapes_from_cascade(library.attention(passes=1, deferred_division=True),
                                 {"M": 16, "P": 16, "E": 4, "F": 4, "M0": 4})
    for fusion in ((), (tuple(shapes),)):
        for objective in ("latency", "energy"):
            fast = search_cascade(fusemax, shapes, ANALYTICAL, objective, fusion=fusion)
            full = search_cascade(fusemax, shapes, ANALYTICAL, objective, fusion=fusion, exhaustive=True)
            assert fast.mapping == full.mapping
            assert [(r.cycles, r.energy_pj) for r in fast.per_einsum] == [(r.cycles, r.energy_pj) for r in full.per_einsum]
            assert fast.evaluated + fast.rejected + fast.pruned == full.evaluated + full.rejected
            assert fast.pruned > 0 and full.pruned == 0
