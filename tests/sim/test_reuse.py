"""Tile reuse rules (sim.reuse) against brute force on explicit sets of words, and the
bandwidth bound of sim.nest against a closed form."""

import itertools
import math

import numpy as np
import pytest

from arch.hierarchy import ComputeLevel, Hierarchy, StorageLevel
from mappings.mapping import EinsumShape
from mappings.nest import LevelMapping, Loop, NestMapping, tile_words
from sim.nest import evaluate
from sim.reuse import delta_counts, spread_offsets, strides, union_words

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


@pytest.mark.parametrize("above,tile_p,tile_r", [
    ([("R", 3)], 16, 1),            # exercise 01 ws: 16 + 1 + 1 = 18
    ([("P", 4), ("R", 3)], 4, 1),   # R inside P: every move is forward (+1, then +4-2)
    ([("P", 8)], 2, 3),             # a P-tile of 2 with the whole R: 4 words, then 2 new per step
    ([("R", 3), ("P", 2)], 8, 1),   # P inside R: no overlap within a run of P, back 7 at R's carry
])
def test_delta_counts_equal_set_difference_on_forward_moves(above, tile_p, tile_r):
    loops = [Loop(r, f, 0, "temporal") for r, f in above] + [Loop("P", tile_p, 1, "temporal"),
                                                             Loop("R", tile_r, 1, "temporal")]
    dims = CONV1D.projection("I")
    widths = (tile_p + tile_r - 1,)
    got = delta_counts(dims, widths, loops, strides(loops), list(range(len(above))))
    fetched = sum(n * math.prod(b) for b, n in got.items())
    assert fetched == _brute_fetches(above, tile_p, tile_r)


def test_a_move_against_the_previous_slide_refetches_the_whole_tile():
    """Timeloop's rule, where it departs from the set difference: a window that slid forward
    (R inside K) and is moved back when K advances is fetched whole (16 words), not only its
    2 uncovered words. Exercise 04's register file (tests/sim/test_nest.py) pins the same rule
    against Timeloop's output: 18 words per (C, K) step, 1152 in all."""
    loops = [Loop("K", 2, 0, "temporal"), Loop("R", 3, 0, "temporal"), Loop("P", 16, 1, "temporal")]
    got = delta_counts(CONV1D.projection("I"), (16,), loops, strides(loops), [0, 1])
    assert sum(n * math.prod(b) for b, n in got.items()) == 2 * (16 + 1 + 1)


def test_union_words_equals_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(50):
        widths = tuple(int(w) for w in rng.integers(1, 5, size=2))
        offsets = [tuple(int(v) for v in o) for o in rng.integers(0, 6, size=(int(rng.integers(1, 6)), 2))]
        words = {(o[0] + i, o[1] + j) for o in offsets for i in range(widths[0]) for j in range(widths[1])}
        assert union_words(widths, offsets) == len(words)


def test_spread_over_an_irrelevant_rank_multicasts():
    """16 copies spread over K all need the same input window: one parent read serves them."""
    loops = [Loop("K", 16, 0, "x"), Loop("P", 16, 1, "temporal")]
    dims = (((1, "R"), (1, "P")),)
    offs = spread_offsets(dims, loops, strides(loops), [0])
    assert len(offs) == 16 and union_words((16,), offs) == 16


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
