"""One cost contract: every family books its actions in the vocabulary of sim/cost.py.

A lowered graph of each family is costed; its Report's action keys must name DRAM traffic only as read/write/access (bytes), carry no unit in an action's name
(``read_bytes``, ``access_8b``, ``read_32b`` were three ways of saying "read"), be priced under
the same keys, and the Report's DRAM bytes must be the sum of the DRAM actions, computed here
from the rule itself rather than taken from the code under test.
"""

import re

import pytest

from arch.registry import load_arch
from sim import analytical
from sim.cost import DRAM, STORAGE_ACTIONS, dram_transfer, transfer_cycles

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
