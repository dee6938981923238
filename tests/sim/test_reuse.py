"""Tile reuse rules (sim.reuse) against brute force on explicit sets of words, and the
bandwidth bound of sim.nest against a closed form."""

import itertools

import pytest

from arch.hierarchy import ComputeLevel, Hierarchy, StorageLevel
from mappings.mapping import EinsumShape
from mappings.nest import LevelMapping, Loop, NestMapping, tile_words
from sim.nest import evaluate
from sim.reuse import box_words, delta_counts, distinct_copies, strides

CONV1D = EinsumShape("O", {"R": 3, "P": 16}, {"W": ("R",), "I": ("R", "P"), "O": ("P",)}, "O", {"mac": 48},
                     {"I": (((1, "R"), (1, "P")),)})


def test_sliding_window_tile_is_p_plus_r_minus_1_wide():
    assert tile_words(CONV1D, "I", {"P": 4, "R": 3}) == 4 + 3 - 1
    assert tile_words(CONV1D, "I", {"P": 16, "R": 1}) == 16
    strided = EinsumShape("O", {"R": 3, "P": 4}, {"I": ("R", "P"), "O": ("P",)}, "O", {"mac": 12},
                          {"I": (((1, "R"), (2, "P")),)})
    assert tile_words(strided, "I", {"P": 4, "R": 3}) == 2 * 3 + 2 + 1  # indices 0..8


def _brute_fetches(loops, tile_p, tile_r):
    """Words fetched by a buffer holding a (P-tile x R-tile) window of I[p+r] while ``loops``
    (rank, factor) run above it, outermost first: the set difference against the previous tile."""
    prev, total = set(), 0
    for idx in itertools.product(*[range(f) for _, f in loops]):
        p0 = r0 = 0
        for (rank, _), i, s in zip(loops, idx, _plain_strides(loops, tile_p, tile_r)):
            if rank == "P":
                p0 += i * s
            else:
                r0 += i * s
        tile = {p + r for p in range(p0, p0 + tile_p) for r in range(r0, r0 + tile_r)}
        total += len(tile - prev)
        prev = tile
    return total


def _plain_strides(loops, tile_p, tile_r):
    seen = {"P": tile_p, "R": tile_r}
    out = [0] * len(loops)
    for k in range(len(loops) - 1, -1, -1):
        rank, f = loops[k]
        out[k] = seen[rank]
        seen[rank] *= f
    return out


def _fetched(above, tile_p, tile_r):
    loops = [Loop(r, f, 0, "temporal") for r, f in above] + [Loop("P", tile_p, 1, "temporal"),
                                                             Loop("R", tile_r, 1, "temporal")]
    got = delta_counts(CONV1D.projection("I"), (tile_p + tile_r - 1,), loops, strides(loops),
                       [k for k, lp in enumerate(loops) if lp.level == 0])
    return sum(n * box_words(b) for b, n in got.items())


@pytest.mark.parametrize("above,tile_p,tile_r", [
    ([("R", 3)], 16, 1),    # exercise 01 ws: 16 + 1 + 1 = 18
    ([("P", 8)], 2, 3),     # a P-tile of 2 with the whole R: 4 words, then 2 new per step
    ([("P", 4)], 4, 1),     # no overlap between steps: 16
])
def test_one_steady_slide_fetches_the_set_difference(above, tile_p, tile_r):
    assert _fetched(above, tile_p, tile_r) == _brute_fetches(above, tile_p, tile_r)


@pytest.mark.parametrize("above,tile_p,tile_r,expected,brute", [
    # R slides by +1 twice, then P's step moves the window by +4-2 = +2: a new stride, so
    # the whole 4-word window is fetched: 4 x (4 + 1 + 1) = 24 where the set difference is 18.
    ([("P", 4), ("R", 3)], 4, 1, 24, 18),
    # P inside R: +8 (no overlap), then back 7 at R's carry (a new stride): every window whole.
    ([("R", 3), ("P", 2)], 8, 1, 48, 46),
])
def test_a_change_of_stride_refetches_the_whole_tile(above, tile_p, tile_r, expected, brute):
    assert _brute_fetches(above, tile_p, tile_r) == brute
    assert _fetched(above, tile_p, tile_r) == expected


def test_a_window_that_stood_still_then_slides_is_fetched_whole():
    """A loop over a rank the input does not use (K) inside the sliding one (P): the window
    stands still (translation zero, remembered), then moves by +8: a change, so the whole
    10-word window is fetched again. Exercise 06's global buffer pins this against Timeloop
    (573440 input fills: 7 whole windows per (Q, C), tests/sim/test_nest.py)."""
    loops = [Loop("P", 2, 0, "temporal"), Loop("K", 3, 0, "temporal"), Loop("P", 8, 1, "temporal"),
             Loop("R", 3, 1, "temporal")]
    got = delta_counts(CONV1D.projection("I"), (10,), loops, strides(loops), [0, 1])
    assert sum(n * box_words(b) for b, n in got.items()) == 2 * 10


def test_a_move_against_the_previous_slide_refetches_the_whole_tile():
    """A window that slid forward (R inside K) and is moved back when K advances is fetched
    whole (16 words), not only its 2 uncovered words. Exercise 04's register file
    (tests/sim/test_nest.py) pins the same rule: 18 words per (C, K) step, 1152 in all."""
    loops = [Loop("K", 2, 0, "temporal"), Loop("R", 3, 0, "temporal"), Loop("P", 16, 1, "temporal")]
    got = delta_counts(CONV1D.projection("I"), (16,), loops, strides(loops), [0, 1])
    assert sum(n * box_words(b) for b, n in got.items()) == 2 * (16 + 1 + 1)


def test_copies_with_identical_tiles_share_one_access():
    """Eyeriss-like fan-out: Q over 14 columns (X), M and S over 12 rows (Y). Inputs use
    s+q and not m: within the rows the 4 values of M see identical tiles (12 rows, 3 distinct);
    the columns are compared as wholes: 14 x 3 = 42 distinct of 168."""
    dims = (((1, "S"), (1, "Q")),)
    loops = [Loop("Q", 14, 0, "x"), Loop("M", 4, 0, "y"), Loop("S", 3, 0, "y")]
    assert distinct_copies(dims, loops, strides(loops), [0, 1, 2]) == 42
    # Inside one group the diagonal is seen: S and Q both over one axis give s+q in 0..5.
    one_axis = [Loop("Q", 4, 0, "y"), Loop("S", 3, 0, "y")]
    assert distinct_copies(dims, one_axis, strides(one_axis), [0, 1]) == 6


def test_spread_over_an_irrelevant_rank_multicasts():
    """16 copies spread over K all need the same input window: one parent read serves them."""
    loops = [Loop("K", 16, 0, "x"), Loop("P", 16, 1, "temporal")]
    assert distinct_copies((((1, "R"), (1, "P")),), loops, strides(loops), [0]) == 1


def test_read_bandwidth_bounds_cycles():
    """A buffer holding the whole GEMM reads each operand once per MAC and the partial sum at
    every MAC but the first of each output: 3*MACs - |Z| words; at 0.5 words per cycle that is
    2 * (3*MACs - |Z|) cycles, above the MACs' own steps."""
    M, N, K = 4, 3, 5
    shape = EinsumShape("Z", {"M": M, "N": N, "K": K}, {"A": ("M", "K"), "B": ("K", "N"), "Z": ("M", "N")},
                        "Z", {"mac": M * N * K})
    hier = Hierarchy("h", (StorageLevel("DRAM"), StorageLevel("Buf", size_words=1000, read_bw=0.5)),
                     ComputeLevel("MAC"))
    nest = NestMapping((LevelMapping("DRAM"), LevelMapping("Buf", (("M", M), ("N", N), ("K", K)))))
    got = evaluate(hier, shape, nest)
    macs = M * N * K
    assert got.accesses["Buf"]["Z"]["reads"] == macs - M * N
    assert got.cycles == 2 * (3 * macs - M * N)
    assert got.level_cycles["DRAM"] == macs
