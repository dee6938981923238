"""One cost contract: every family books its actions in the vocabulary of sim/cost.py.

A lowered graph of each family is costed; its Report's action keys must name DRAM traffic only as read/write/access (bytes), carry no unit in an action's name
(``read_bytes``, ``access_8b``, ``read_32b`` were three ways of saying "read"), be priced under
the same keys, and the Report's DRAM bytes must be the sum of the DRAM actions, computed here
from the rule itself rather than taken from the code under test.
"""

import re

import pytest

import numpy as np

from arch.registry import load_arch
from sim import analytical
from sim.cost import (DRAM, STORAGE_ACTIONS, access_costs, action_cost, dram_transfer, op_costs, priced,
                      register_costs, storage_traffic, transfer_cycles)

DATA = "tests/data/matrices/karate.mtx"
UNIT_SUFFIX = re.compile(r"_(bytes|\d+b)$")


def _attention(config):
    from mappings.workloads import Workload, model
    from studies.families.attention import layer_graph
    return layer_graph(load_arch("fusemax" if config == "fusemax" else "flat"), Workload(model("bert"), 1024, 1), config)


def _gemm():
    from mappings.mapper import search
    from mappings.mapping import gemm_shape
    from sim.lower import ANALYTICAL, lower
    spec, shape = load_arch("fusemax"), gemm_shape(128, 128, 128)
    return lower(spec, shape, search(spec, shape, ANALYTICAL).best)


def _systolic():
    from sim.systolic import lower_gemm
    return lower_gemm(load_arch("systolic"), 64, 64, 64, dram_limited=True)


def _mmfree():
    from sim.mmfree import lower, model_shape
    return lower(load_arch("mmfree"), model_shape("370M"))


def _cascade():
    from mappings.cascade_mapping import load
    from mappings.library import attention
    from sim.cascade import lower
    return lower(attention(passes=1, deferred_division=True).batched("B", "H"),
                 {"B": 1, "H": 2, "M": 4096, "P": 4096, "E": 64, "F": 64, "M0": 256}, load("fusemax"), load_arch("fusemax"))


def _spgemm(kernel):
    from sim.spgemm import load_mtx, simulate
    A = load_mtx(DATA)
    return simulate(A, A, kernel, load_arch("piuma"), keep_product=False).graph


GRAPHS = {"attention-fusemax": lambda: _attention("fusemax"), "attention-flat": lambda: _attention("flat"),
          "gemm": _gemm, "systolic": _systolic, "mmfree": _mmfree, "cascade": _cascade,
          "spgemm-smash-v3": lambda: _spgemm("smash-v3"), "spgemm-outer": lambda: _spgemm("outer")}


@pytest.mark.parametrize("family", GRAPHS)
def test_actions_follow_the_vocabulary(family):
    graph = GRAPHS[family]()
    report = analytical.run(graph)
    for comp, act in report.actions:
        assert UNIT_SUFFIX.search(act) is None, (comp, act)        # no unit in an action's name
        if comp == DRAM:
            assert act in STORAGE_ACTIONS, act
    # every action is priced under its own key, and nothing is priced that was not counted
    assert set(report.energy_pj_by) == set(report.actions)
    # the Report's DRAM traffic is the DRAM actions in bytes
    dram = sum(v for (comp, act), v in report.actions.items() if comp == DRAM)
    assert report.dram_bytes == round(dram) and dram > 0


def test_dram_transfer_books_bytes_under_read_and_write():
    actions, energy = dram_transfer(read_bytes=96, write_bytes=32, pj_per_byte=0.5)
    assert actions == {(DRAM, "read"): 96, (DRAM, "write"): 32}
    assert energy == {(DRAM, "read"): 48.0, (DRAM, "write"): 16.0}
    assert dram_transfer(0, 0, 1.0) == ({}, {})
    assert set(a for _, a in actions) <= set(STORAGE_ACTIONS)


@pytest.mark.parametrize("nbytes,bw,cycles", [(0, 3, 0), (1, 3, 1), (3, 3, 1), (4, 3, 2), (10, 3, 4),
                                              (3 * (1 / 3) * 3, 1, 3), (64, 12.8, 5)])
def test_transfer_cycles_round_up_but_not_float_noise(nbytes, bw, cycles):
    # ceil(bytes / bandwidth); 3 * (1/3) * 3 is 3.0000000000000004 in floating point: 3 cycles
    assert transfer_cycles(nbytes, bw) == cycles


# ----------------------------------------------------------------------------- pricing rule
def _spec_price(spec, component, action):
    """pJ of one action read straight from a spatial spec's fields (not through sim.cost)."""
    if component == DRAM:
        return spec.dram.pj_per_byte
    if component in spec.storage:
        return {"read": spec.storage[component].read_pj, "write": spec.storage[component].write_pj}[action]
    return spec.compute[component].operators[action].energy_pj


def test_priced_is_count_times_pj_on_numbers_and_arrays():
    assert priced("glb", "read", 3, 2.5) == ({("glb", "read"): 3}, {("glb", "read"): 7.5})
    counts = np.array([0.0, 1.0, 4.0])
    actions, energy = priced("glb", "write", counts, 0.5)
    assert actions[("glb", "write")] is counts
    np.testing.assert_array_equal(energy[("glb", "write")], [0.0, 0.5, 2.0])
    # a zero number books no key; an array is booked whole, zeros and all
    assert access_costs(load_arch("fusemax").storage["glb"], 0, 0) == ({}, {})
    assert set(access_costs(load_arch("fusemax").storage["glb"], np.zeros(2), 0)[0]) == {("glb", "read")}


def test_spec_components_price_their_own_actions():
    spec = load_arch("fusemax")
    glb, pe2d = spec.storage["glb"], spec.compute["pe2d"]
    assert action_cost(glb, "write", 10)[1] == {("glb", "write"): 10 * glb.write_pj}
    assert action_cost(pe2d, "mac", 10)[1] == {("pe2d", "mac"): 10 * pe2d.operators["mac"].energy_pj}
    # bytes through a level are accesses of its width: 96 bytes read = 96 / access_bytes reads
    got = storage_traffic(glb, read_bytes=96)
    assert got == ({("glb", "read"): 96 / glb.access_bytes}, {("glb", "read"): 96 / glb.access_bytes * glb.read_pj})


def test_op_and_register_costs_follow_the_per_point_rule():
    spec = load_arch("fusemax")
    unit = spec.compute["pe2d"]
    ops = op_costs(unit, {"mac": 1000, "exp": 0}, instances=4)
    assert ops == ({("pe2d", "mac"): 250.0}, {("pe2d", "mac"): 250.0 * _spec_price(spec, "pe2d", "mac")})
    # each of 1000 points reads its 2 operands and writes its result once, words of word_bits,
    # in accesses of each per-PE level's width; 4 instances share them
    actions, energy = register_costs(spec, "pe2d", inputs=2, points=1000, instances=4)
    levels = [lv for lv in spec.storage.values() if lv.per_pe_of == "pe2d"]
    assert levels, "the fusemax preset has a register file per 2D PE"
    want = {}
    for lv in levels:
        per = spec.word_bits / 8 / lv.access_bytes
        want[(lv.name, "read")] = 2 * 1000 * per / 4
        want[(lv.name, "write")] = 1000 * per / 4
    assert actions == pytest.approx(want)
    assert energy == pytest.approx({k: n * _spec_price(spec, *k) for k, n in want.items()})
    assert register_costs(spec, "no-such-unit", 2, 1000) == ({}, {})


def test_gemm_cost_and_its_array_bounds_price_one_rule():
    """The mapper's bounds evaluate the per-tensor rule on arrays of candidates: each element is
    what the lowering books for that candidate's numbers."""
    from sim.lower import tensor_costs
    spec = load_arch("fusemax")
    glb = spec.storage["glb"]
    f, g = np.array([1.0, 2.0, 8.0]), np.array([1.0, 4.0, 3.0])
    for is_out in (False, True):
        arrays = tensor_costs(4096, f, g, is_out, True, 2.0, glb, spec.dram.pj_per_byte)
        for i in range(len(f)):
            one = tensor_costs(4096, f[i], g[i], is_out, True, 2.0, glb, spec.dram.pj_per_byte)
            for key in one[0]:
                assert arrays[0][key][i] == one[0][key] and arrays[1][key][i] == one[1][key]
    # an input fetched twice: 2 x 4096 words of 2 bytes from DRAM, written into the buffer
    actions, energy = tensor_costs(4096, 2, 1, False, True, 2.0, glb, spec.dram.pj_per_byte)
    assert actions[(DRAM, "read")] == 2 * 4096 * 2
    assert actions[("glb", "write")] == pytest.approx(2 * 4096 * 2 / glb.access_bytes)
    assert energy[(DRAM, "read")] == pytest.approx(2 * 4096 * 2 * spec.dram.pj_per_byte)


SPATIAL = {"gemm": "fusemax", "systolic": "systolic", "cascade": "fusemax", "attention-fusemax": "fusemax",
           "attention-flat": "flat"}


@pytest.mark.parametrize("family", SPATIAL)
def test_every_action_costs_its_count_times_the_spec_price(family):
    spec = load_arch(SPATIAL[family])
    report = analytical.run(GRAPHS[family]())
    for key, count in report.actions.items():
        assert report.energy_pj_by[key] == pytest.approx(count * _spec_price(spec, *key), rel=1e-9, abs=1e-9), key


# ----------------------------------------------------------------------------- records
#: Components each family's records may name: the spec's own names (storage levels, compute
#: units, ``dram``), or for the specs without such tables the components their docs list
#: (docs/engines.md#actions, docs/spgemm.md, the mmfree module docstring).
def _spatial_components(preset):
    spec = load_arch(preset)
    return {DRAM, *spec.storage, *spec.compute}


RECORDS = {
    "gemm": ("fusemax", "gemm:M=128,N=128,K=128", lambda: _spatial_components("fusemax")),
    "systolic": ("systolic", "gemm:M=64,N=64,K=64", lambda: _spatial_components("systolic")),
    "attention": ("fusemax", "attention:model=bert,seq_len=1K", lambda: _spatial_components("fusemax")),
    "cascade": ("fusemax", "cascade:name=gemm,M=256,N=256,K=256", lambda: _spatial_components("fusemax")),
    "mmfree": ("mmfree", "mmfree:model=370M", lambda: {DRAM, "ternary", "act_buffer", "vector"}),
    "spgemm": ("piuma", f"spgemm:matrix={DATA},kernel=smash-v3",
               lambda: {DRAM, "pipeline", "fpu", "scratchpad", "atomic_unit", "network"}),
}


@pytest.mark.parametrize("family", RECORDS)
def test_records_name_components_as_the_spec_does(family):
    from studies import explore, to_records
    arch, workload, allowed = RECORDS[family]
    (record,) = to_records(explore(arch=arch, workload=workload))
    breakdown = record["energy_breakdown"]
    assert DRAM in breakdown and set(breakdown) <= allowed(), sorted(breakdown)
    assert sum(breakdown.values()) == pytest.approx(record["energy_pj"], rel=1e-9)


def test_one_component_has_one_key_in_every_family():
    """The fusemax preset's global buffer and DRAM carry the same breakdown keys whichever family
    (mapped GEMM, cascade, attention) runs on it."""
    from studies import explore, to_records
    keys = [set(to_records(explore(arch="fusemax", workload=RECORDS[f][1]))[0]["energy_breakdown"])
            for f in ("gemm", "cascade", "attention")]
    for k in keys:
        assert {DRAM, "glb"} <= k


def test_timeloop_records_name_the_levels_of_the_architecture_file():
    """A Timeloop architecture names its own components (``DRAM``, ``GlobalBuffer``, ``MACC``);
    the record keeps those names, and its actions are the model's (docs/engines.md#actions)."""
    from pathlib import Path

    from arch.timeloop import load_timeloop_arch
    from studies import explore, to_records
    d = Path(__file__).resolve().parents[1] / "data" / "timeloop" / "04-3levelspatial-cp"
    arch = d / "3levelspatial.arch.yaml"
    workload = (f"timeloop:problem={d / 'conv1d+oc+ic.prob.yaml'},"
                f"mapping={d / 'conv1d+oc+ic-3levelspatial-cp-ws.map.yaml'},ert={d / 'timeloop-model.ERT.yaml'}")
    (record,) = to_records(explore(arch=str(arch), workload=workload))
    hierarchy = load_timeloop_arch(arch)
    assert set(record["energy_breakdown"]) == {lv.name for lv in hierarchy.levels} | {hierarchy.compute.name}
    for acts in record["energy_by_action"].values():
        assert set(acts) <= {"read", "fill", "update", "leak", "compute"}
    assert sum(record["energy_breakdown"].values()) == pytest.approx(record["energy_pj"], rel=1e-9)
