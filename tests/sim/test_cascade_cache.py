"""What the lowering keeps across points (a group's structure, interned dependencies, which
sizes name ranks) never changes a graph: a lowering after others of different sizes equals
the same lowering with every cache cleared, and a refusal is not kept."""

import pytest

from arch.errors import MappingError
from arch.registry import load_arch
from mappings import cascade_plan, cascade_sizes
from mappings.cascade_mapping import Group, Placement, dump, loads, shipped
from mappings.workloads import workload
from sim.cascade import lower
from studies.bench_lowering import forget
from studies.families.attention import arrays, attention_cascade, linear_graphs



def _clear():
    """Forget every ``functools`` cache of the project's modules (a fresh process's state)."""
    forget()


def _attention(name, spec, model, length):
    m = shipped(name)
    return lower(*attention_cascade(m, workload(model, length, 64), arrays(spec)[0].rows), m, spec)


@pytest.mark.parametrize("name,hw", [("fusemax", "fusemax"), ("architecture", "fusemax"), ("flat", "flat"),
                                     ("flat-spill", "flat"), ("unfused", "unfused")])
def test_a_warm_lowering_equals_a_fresh_one(name, hw):
    spec = load_arch(hw, {"pe_dim": "64"})
    _clear()
    first = _attention(name, spec, "bert", "1K")
    warm = _attention(name, spec, "xlm", "64K")       # other sizes, the caches filled by the first
    assert cascade_plan._structure.cache_info().hits > 0
    _clear()
    fresh = _attention(name, spec, "xlm", "64K")
    assert warm == fresh
    assert first != warm                               # the sizes do reach the graph
    assert _attention(name, spec, "bert", "1K") == first


def test_linear_layers_warm_equal_fresh():
    spec = load_arch("fusemax", {})
    gemms = sum(workload("t5", "4K", 64).linear_layers(), [])
    _clear()
    warm = linear_graphs(spec, gemms)
    _clear()
    fresh = [linear_graphs(spec, [g])[0] for g in gemms]
    assert warm == fresh


def test_a_refusal_is_raised_every_time():
    # a group whose loop rank is not a rank of its Einsums: refused by the group's structure,
    # on the second call too (a cache keeps results, not refusals)
    text = dump(shipped("fusemax")).replace("[M1, 1]", "[Q9, 1]")
    m = loads(text, "bad.yaml")
    spec = load_arch("fusemax", {})
    for _ in range(2):
        with pytest.raises(MappingError, match="loop rank 'Q9' at level 'glb' is not a rank of its Einsums"):
            lower(*attention_cascade(m, workload("bert", "1K", 64), 256), m, spec)


def test_equal_mapping_objects_hash_equal():
    a = Placement("Z", "pe2d", [("M", "pe2d.rows")], {"glb": {"M": 256, "N": "fit(16)"}}, {"glb": ["A"]})
    b = Placement("Z", "pe2d", [("M", "pe2d.rows")], {"glb": {"N": "fit(16)", "M": 256}}, {"glb": ["A"]})
    assert a == b and hash(a) == hash(b)
    assert hash(Group(("A", "B"), "glb", stages={"B": 1})) == hash(Group(("A", "B"), "glb", stages={"B": 1}))
    m = shipped("fusemax")
    assert hash(loads(dump(m))) == hash(m)


@pytest.mark.parametrize("text,reads", [("pe2d.rows", False), ("min(pe2d.cols, 4 * 2)", False),
                                        ("min(pe2d.cols, P)", True), ("fit(pe2d.cols)", False), ("M // 2", True)])
def test_a_size_says_whether_it_names_a_rank(text, reads):
    assert cascade_sizes.Size(text).reads_ranks is reads


def test_a_kept_expression_names_its_own_file():
    # equal mappings read from two files share what is kept; a size left for the plan to
    # resolve (a spatial factor that names a rank) still names the file it came from
    text = dump(shipped("flat")).replace("min(pe2d.cols, P)", "min(pe2d.cols, Q9)")
    spec = load_arch("flat", {})
    for source in ("a.yaml", "b.yaml"):
        m = loads(text, source)
        with pytest.raises(MappingError, match=f"^{source}: .*'min\\(pe2d.cols, Q9\\)' names 'Q9', not a rank here"):
            lower(*attention_cascade(m, workload("bert", "1K", 64), 256), m, spec)


def test_a_rung_sizes_its_mapping_once_for_every_point():
    spec = load_arch("unfused", {})
    _clear()
    for model, length in (("bert", "1K"), ("t5", "64K"), ("xlm", "1M")):
        _attention("unfused", spec, model, length)
    assert cascade_plan._sized.cache_info().misses == 1
    assert cascade_plan._grouped.cache_info().misses == 1
