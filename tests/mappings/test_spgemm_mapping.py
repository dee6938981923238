"""SpGEMM as a cascade with CSR formats, and its kernels as mapping files: what each loop
order means, and the one-line refusals of mappings the kernels cannot run."""

from dataclasses import replace

import numpy as np
import pytest
import yaml

from arch.errors import MappingError
from mappings import parse
from mappings.cascade_mapping import from_dict, load as load_mapping
from mappings.spgemm import KERNELS, cascade, load, plan


def doc(loop_order=("M", "K", "N"), merge="hash", distribution="static", fragment=False, bypass=(), **extra):
    z = {"unit": "threads", "loop_order": list(loop_order),
         "sparse": {"merge": merge, "distribution": distribution, "fragment": fragment}}
    if bypass:
        z["levels"] = {"scratchpad": {"bypass": list(bypass)}}
    z.update(extra)
    return from_dict({"einsums": {"Z": z}}, "m.yaml")


def test_the_cascade_computes_a_matrix_product_on_csr_operands():
    c = cascade()
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    assert np.allclose(c.evaluate({"A": a, "B": b})["Z"], a @ b)
    assert c.formats["A"] == (("M", "U"), ("K", "C")) and c.formats["B"] == (("K", "U"), ("N", "C"))


@pytest.mark.parametrize("order,flow,staged", [
    # K innermost: every (m, n) pair intersects A's row with B's column (B read by column)
    (("M", "N", "K"), "inner", ("B",)),
    # K outermost: column k of A (read by column) times row k of B
    (("K", "M", "N"), "outer", ("A",)),
    (("K", "N", "M"), "outer", ("A",)),
    # K in the middle under M: Gustavson, both operands read in their CSR order
    (("M", "K", "N"), "rowwise", ()),
])
def test_loop_order_decides_the_dataflow_and_what_is_staged(order, flow, staged):
    merge = {"inner": "none", "outer": "heap", "rowwise": "sort"}[flow]
    p = plan(cascade(), doc(order, merge, "tokens", bypass=["Z"]), "k")
    assert (p.dataflow, p.staged, p.hashing) == (flow, staged, False)


def test_every_kernel_name_is_a_shipped_mapping_of_the_documented_mechanisms():
    plans = {k: load(k) for k in KERNELS}
    assert [plans[k].dataflow for k in KERNELS] == ["inner", "outer", "rowwise", "rowwise", "rowwise", "rowwise"]
    # SMASH V1 -> V2 adds tokens, V2 -> V3 adds fragmented tables; all merge in hash tables
    assert [(plans[k].distribution, plans[k].fragment) for k in ("smash-v1", "smash-v2", "smash-v3")] == \
        [("static", False), ("tokens", False), ("tokens", True)]
    assert all(plans[k].hashing for k in ("smash-v1", "smash-v2", "smash-v3"))
    assert [plans[k].merge for k in ("inner", "outer", "rowwise-dram")] == ["none", "heap", "sort"]


def test_a_mapping_file_is_a_kernel_of_its_own(tmp_path):
    f = tmp_path / "my-v2.yaml"
    f.write_text(yaml.safe_dump(load_mapping("smash-v2").to_dict()))
    p = load(str(f))
    assert p == replace(load("smash-v2"), name="my-v2")


@pytest.mark.parametrize("mapping,message", [
    (doc(("M", "N")), "m.yaml: einsums.Z.loop_order: must order the ranks M, K, N, not M, N"),
    (doc(("N", "K", "M"), "sort", "tokens", bypass=["Z"]),
     "m.yaml: einsums.Z.loop_order: column-wise Gustavson (N, K, M) is not modelled; row-wise is M, K, N"),
    (doc(("M", "N", "K"), "hash"), "m.yaml: einsums.Z.sparse.merge: the inner dataflow merges by none, not 'hash'"),
    (doc(merge="sort", distribution="tokens"), "m.yaml: einsums.Z.levels.scratchpad: a sort merge bypasses Z in scratchpad"),
    (doc(bypass=["Z"]), "m.yaml: einsums.Z.levels.scratchpad: a hash merge keeps Z in scratchpad"),
    (doc(merge="sort", bypass=["Z"]),
     "m.yaml: einsums.Z.sparse.distribution: static distribution is modelled for hash merges only; a sort merge takes tokens"),
    (doc(fragment=True), "m.yaml: einsums.Z.sparse.fragment: fragmented tables need tokens (any thread works on any fragment)"),
    (doc(unit="pe2d"), "m.yaml: einsums.Z.unit: must be threads, not 'pe2d'"),
    (doc(spatial=[["M", 4]]), "m.yaml: einsums.Z.spatial: SpGEMM work is cut by rows and tokens, not spatial factors"),
    (doc(levels={"glb": {"tiles": {"M": 4}}}), "m.yaml: einsums.Z.levels.glb: a SpGEMM mapping takes no tiles and places Z in scratchpad only"),
    (doc(levels={"scratchpad": {"bypass": ["A"]}}),
     "m.yaml: einsums.Z.levels.scratchpad.bypass: only Z is placed; the operands are staged as the dataflow needs"),
    (from_dict({"einsums": {"Z": {"unit": "threads", "loop_order": ["M", "K", "N"]}}}, "m.yaml"),
     "m.yaml: einsums.Z.sparse: is required (merge, distribution, fragment)"),
    (from_dict({"einsums": {"QK": {"unit": "threads"}}}, "m.yaml"),
     "m.yaml: einsums.Z: is required (the SpGEMM mapping places Z)"),
])
def test_mappings_the_kernels_cannot_run_are_one_line(mapping, message):
    with pytest.raises(MappingError) as err:
        plan(cascade(), mapping, "k", "m.yaml")
    assert str(err.value) == message


@pytest.mark.parametrize("text,message", [
    ("Z[m,n] = A[m,k] * B[k,n]\nformat A[M,K] = U, C\nformat B[N,K] = U, C",
     "cascade 'x': operand B must be stored CSR (format B[K,N] = U, C), not [N,K] = U, C"),
    ("Z[m,n] = A[m,k] * B[k,n]\nformat B[K,N] = U, C", "cascade 'x': operand A must be stored CSR (format A[M,K] = U, C), not dense"),
    ("Z[m,n] = A[m,k] * B[k,n] * C[n]", "cascade 'x': a SpGEMM mapping needs one Einsum of two operands, Z[m,n] = A[m,k] * B[k,n]"),
    ("Z[m,n] = A[k,m] * B[k,n]", "cascade 'x': a SpGEMM mapping needs Z[m,n] = A[m,k] * B[k,n], not Z[m,n] = A[k,m] * B[k,n]"),
])
def test_cascades_the_kernels_cannot_run_are_one_line(text, message):
    with pytest.raises(MappingError) as err:
        plan(parse(text, name="x"), load_mapping("smash-v3"), "k")
    assert str(err.value) == message


def test_unknown_kernel_names_the_choices():
    with pytest.raises(MappingError, match=r"^'kernel' must be one of inner, outer, rowwise-dram, smash-v1, smash-v2, smash-v3, not 'gustavson' \(or give mapping=FILE.yaml\)$"):
        load("gustavson")
