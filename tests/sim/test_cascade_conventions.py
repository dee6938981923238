"""The accounting conventions a mapping may select (docs/mapping.md, "Conventions"), each
against a closed form on a tiny cascade: lock-step sets (``sync``), the register files of one
PE instance (``accounting.register_files``) and the slots counted against a buffer
(``capacity_slots``)."""

import pytest

from arch.errors import MappingError
from arch.registry import load_arch
from mappings import parse
from mappings.cascade_mapping import from_dict
from mappings.cascade_plan import plan
from sim.analytical import run as analytical
from sim.cascade import lower
from sim.des import run as des

SPEC = load_arch("fusemax", {})
OPS1 = SPEC.compute["pe1d"].operators
OPS2 = SPEC.compute["pe2d"].operators

# Per iteration of loop M, one row of N = 256 values; A's row is loaded, each result row
# stored (a few cycles of the DRAM channel, less than either array's work):
#   C = A / A           on the 1D array's 256 PEs: 1 issue cycle, its quotient 4 cycles later
#   B = exp(A) * A      on 64 PEs of the 2D array: 4 points per PE of exp (6 MACs) and a mul
#   D = A * A * A       on 64 PEs of the 1D array: 4 points per PE of two muls
SYNC_CASCADE = parse("rank M, N\nC[m,n] = A[m,n] / A[m,n]\nB[m,n] = exp(A[m,n]) * A[m,n]\n"
                     "D[m,n] = A[m,n] * A[m,n] * A[m,n]")


def _sync_graph(iterations, sync=None):
    einsums = {"C": {"unit": "pe1d", "spatial": [["N", 256]]}, "B": {"unit": "pe2d", "spatial": [["N", 64]]},
               "D": {"unit": "pe1d", "spatial": [["N", 64]]}}
    group = {"einsums": ["C", "B", "D"], "buffer": "glb", "loops": [["M", 1]]}
    if sync:
        group["sync"] = sync
    return lower(SYNC_CASCADE, {"M": iterations, "N": 256}, from_dict({"einsums": einsums, "fusion": [group]}), SPEC)


@pytest.mark.parametrize("run", [analytical, des])
def test_sync_sets_cost_the_sum_of_their_maxima(run):
    c = OPS1["div"].cycles
    b = 4 * (OPS2["exp"].cycles + OPS2["mul"].cycles)
    d = 4 * 2 * OPS1["mul"].cycles
    assert OPS1["div"].latency_cycles > c          # the quotient trails its issue
    # each added iteration costs one set after the other: C, then the slower of B and D; a
    # set waits for the previous one to issue, not for C's quotient (nothing reads it)
    per_iteration = c + max(b, d)
    synced = [run(_sync_graph(n, [["C"], ["B", "D"]])).cycles for n in (64, 128)]
    assert synced[1] - synced[0] == 64 * per_iteration
    # without the sets the arrays overlap: the busier 1D array (C and D) sets the pace
    free = [run(_sync_graph(n)).cycles for n in (64, 128)]
    assert free[1] - free[0] == 64 * max(c + d, b)


def test_sync_changes_time_not_energy():
    a, b = _sync_graph(64), _sync_graph(64, [["C"], ["B", "D"]])
    assert analytical(b).energy_pj == pytest.approx(analytical(a).energy_pj)
    assert analytical(b).cycles > analytical(a).cycles


def test_a_sync_set_naming_an_einsum_outside_the_group_is_refused():
    einsums = {n: {"unit": "pe1d", "spatial": [["N", 256]]} for n in ("C", "B", "D")}
    m = from_dict({"einsums": einsums, "fusion": [{"einsums": ["C", "B"], "buffer": "glb", "loops": [["M", 1]],
                                                   "sync": [["C"], ["D"]]}]}, "s.yaml")
    with pytest.raises(MappingError) as err:
        plan(SYNC_CASCADE, {"M": 4, "N": 256}, m, SPEC)
    assert str(err.value) == "fusion group ['C', 'B']: sync[1] names einsum 'D', which is not in the group"


@pytest.mark.parametrize("register_files,share", [("every_pe", 1), ("one_pe", 1 / 256)])
def test_register_files_of_every_pe_or_of_one(register_files, share):
    # Z = X * Y over 8 x 256 points on the 1D array's 256 PEs: a read per operand and a write
    # per result of every point (2 x 2048 reads, 2048 writes), or one PE's share of them
    c = parse("rank M, N\nZ[m,n] = X[m,n] * Y[m,n]")
    m = from_dict({"accounting": {"register_files": register_files},
                   "einsums": {"Z": {"unit": "pe1d", "spatial": [["N", 256]]}}})
    r = analytical(lower(c, {"M": 8, "N": 256}, m, SPEC))
    rf = SPEC.storage["rf1d"]
    assert r.actions[("rf1d", "read")] == pytest.approx(2 * 8 * 256 * share)
    assert r.actions[("rf1d", "write")] == pytest.approx(8 * 256 * share)
    assert r.energy_pj_by[("rf1d", "read")] == pytest.approx(2 * 8 * 256 * share * rf.read_pj)


def test_capacity_slots_count_one_copy_of_each_passed_tile():
    # B passes to C in the buffer in tiles of 4 x 256 words (2 bytes); with two slots the
    # buffer holds two copies, counted as one under capacity_slots: 1
    c = parse("rank M, N\nB[m,n] = A[m,n] * A[m,n]\nC[m,n] = exp(B[m,n])")
    einsums = {"B": {"unit": "pe2d", "spatial": [["N", 256]]}, "C": {"unit": "pe1d", "spatial": [["N", 256]]}}
    group = {"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 4]], "slots": 2, "stages": {"C": 1}}
    held = {}
    for counted in (None, 1, 2):
        g = dict(group, **({} if counted is None else {"capacity_slots": counted}))
        (gp,) = plan(c, {"M": 64, "N": 256}, from_dict({"einsums": einsums, "fusion": [g]}), SPEC)
        held[counted] = gp.held_bytes
    assert held[None] == held[2] and held[2] - held[1] == 4 * 256 * 2
