"""Hash-table placement against a one-key-at-a-time linear-probing implementation."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.spgemm.hashing import home_slot, place_linear, table_slots


def sequential_linear_probing(cols, size):
    """Reference: insert columns one at a time; return the slot of each distinct column and
    the probes of every insertion (found or claimed after displacement + 1 probes)."""
    table = [None] * size
    where, probes = {}, []
    for c in cols:
        s = (c * 107) & (size - 1)
        n = 1
        while table[s] is not None and table[s] != c:
            s = (s + 1) % size
            n += 1
        table[s] = c
        where[c] = s
        probes.append(n)
    return where, probes


def test_home_slot_is_nsparse_hash():
    # (5 * 107) & 15 = 535 & 15 = 7; (1000 * 107) & 63 = 107000 % 64 = 56
    assert home_slot([5, 1000], [16, 64]).tolist() == [7, 56]


def test_table_slots_power_of_two_at_least_twice_bound():
    assert table_slots([0, 1, 2, 3, 4, 5, 1024]).tolist() == [0, 2, 4, 8, 8, 16, 2048]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(0, 200), min_size=1, max_size=40)),
                min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_parallel_placement_equals_sequential_insertion(tables, rnd):
    # several tables whose distinct keys are interleaved in one insertion order
    seqs = []
    for t, (_, cols) in enumerate(tables):
        distinct = list(dict.fromkeys(cols))
        size = int(table_slots([len(distinct)])[0])
        seqs.append((t, distinct, size))
    order = [(t, c) for t, d, _ in seqs for c in d]
    rnd.shuffle(order)
    # keep per-table relative order as shuffled: that is the insertion order of each table
    bases, b = {}, 0
    for t, d, size in seqs:
        bases[t] = (b, size)
        b += size
    home = [bases[t][0] + ((c * 107) & (bases[t][1] - 1)) for t, c in order]
    base = [bases[t][0] for t, _ in order]
    size = [bases[t][1] for t, _ in order]
    got = place_linear(home, base, size)
    for t, d, sz in seqs:
        cols_in_order = [c for tt, c in order if tt == t]
        where, _ = sequential_linear_probing(cols_in_order, sz)
        for (tt, c), slot in zip(order, got.tolist()):
            if tt == t:
                assert slot - bases[t][0] == where[c]


def test_clustered_keys_wrap_around():
    size = 8
    cols = [c for c in range(400) if (c * 107) & 7 == 7][:5]   # all hash to the last slot
    where, probes = sequential_linear_probing(cols, size)
    got = place_linear([7] * 5, [0] * 5, [size] * 5)
    assert got.tolist() == [where[c] for c in cols] == [7, 0, 1, 2, 3]
    assert probes == [1, 2, 3, 4, 5]
