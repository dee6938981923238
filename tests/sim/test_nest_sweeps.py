"""The sweep floor's union of tile positions against a set of every word covered, built here."""

import itertools
import random

from sim.nest_sweeps import span


def covered(moves, width):
    """Every word a tile ``width`` wide covers at each sum of the moves, counted one by one."""
    words = set()
    for idx in itertools.product(*[range(count) for _, count in moves]):
        o = sum(i * step for i, (step, _) in zip(idx, moves))
        words.update(range(o, o + width))
    return len(words)


def test_span_is_the_union_of_the_tiles():
    rng = random.Random(5)
    for _ in range(300):
        moves = tuple((rng.randint(1, 9), rng.randint(1, 4)) for _ in range(rng.randint(0, 3)))
        width = rng.randint(1, 8)
        assert span(moves, width) == covered(moves, width)


def test_span_by_hand():
    # a 3-wide window slid by 1 four times: words 0..6; with gaps (step 5): 3 + 3
    assert span(((1, 5),), 3) == 7
    assert span(((5, 2),), 3) == 6
    # a 2-wide tile at offsets 0, 1, 2 (R) plus 0 or 4 (P spread by a fan-out): 0..3 and 4..7
    assert span(((1, 3), (4, 2)), 2) == 8
