"""The open-order floor against the orders counted by hand and by enumeration written here."""

import itertools
import math
import random

from sim.nest_orders import order_extra_pj


def by_enumeration(factors, terms):
    """Least, over every order, of the priced excess of each term's fetches over its floor."""
    best = None
    for order in itertools.permutations(range(len(factors))):
        total = 0.0
        for own, base, floor_words, prices in terms:
            last = max(k for k, loop in enumerate(order) if own[loop])
            fetched = base * math.prod(factors[loop] for loop in order[: last + 1])
            excess = max(0, fetched - floor_words)
            total += sum(pj * (excess * served // block) for pj, served, block in prices)
        best = total if best is None else min(best, total)
    return best


def test_two_tensors_that_disagree():
    # loops of 2 and 3 trips; one tensor has only the first loop's rank, the other only the
    # second's. Order (2, 3): the first fetches 2 (its floor), the second 2 * 3 = 6 (floor 3);
    # order (3, 2): the first 6 (floor 2), the second 3. The least excess is 3 words.
    terms = [((True, False), 1, 2, [(1.0, 1, 1)]), ((False, True), 1, 3, [(1.0, 1, 1)])]
    assert order_extra_pj([2, 3], terms) == 3.0


def test_nested_rank_sets_cost_nothing():
    terms = [((True, False, False), 4, 8, [(5.0, 2, 4)]), ((True, True, False), 4, 24, [(5.0, 2, 4)])]
    assert order_extra_pj([2, 3, 5], terms) == 0.0


def test_random_terms_equal_the_enumeration():
    rng = random.Random(9)
    for _ in range(200):
        k = rng.randint(2, 4)
        factors = [rng.randint(2, 5) for _ in range(k)]
        terms = []
        for _ in range(rng.randint(1, 4)):
            own = tuple(rng.random() < 0.5 for _ in range(k))
            if not any(own):
                own = (True,) + own[1:]
            base = rng.randint(1, 50)
            floor_words = base * math.prod(f for f, mine in zip(factors, own) if mine)
            prices = [(rng.choice([0.5, 1.0, 7.25]), rng.randint(1, 3), rng.choice([1, 2, 8]))
                      for _ in range(rng.randint(1, 3))]
            terms.append((own, base, floor_words, prices))
        assert order_extra_pj(factors, terms) == by_enumeration(factors, terms)
