"""Timeloop problem and mapping files read into an EinsumShape and a NestMapping."""

import textwrap
from pathlib import Path

import pytest

from arch.errors import MappingError, WorkloadError
from arch.timeloop import load_timeloop_arch
from mappings.nest import tile_words
from mappings.timeloop import read_mapping, read_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop"
EX04 = DATA / "04-3levelspatial-cp"

# A strided 2D convolution written as Timeloop's CNN_Layer problems are (e.g. exercise 06's
# VGG02_layer5.yaml), with the horizontal stride set to 2 in the instance.
CONV2D = textwrap.dedent("""\
    problem:
      version: 0.4
      instance: {C: 4, M: 8, R: 3, S: 3, N: 1, P: 5, Q: 5, Wstride: 2}
      shape:
        name: CNN_Layer
        dimensions: [C, M, R, S, N, P, Q]
        coefficients:
        - {name: Wstride, default: 1}
        - {name: Hstride, default: 1}
        - {name: Wdilation, default: 1}
        - {name: Hdilation, default: 1}
        data_spaces:
        - name: Weights
          projection: [[[C]], [[M]], [[R]], [[S]]]
        - name: Inputs
          projection:
          - [[N]]
          - [[C]]
          - [[R, Wdilation], [P, Wstride]]
          - [[S, Hdilation], [Q, Hstride]]
        - name: Outputs
          projection: [[[N]], [[M]], [[Q]], [[P]]]
          read_write: true
    """)


def test_problem_with_coefficients(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(CONV2D)
    s = read_problem(path)
    assert s.output == "Outputs"
    assert s.op_counts == {"mac": 4 * 8 * 3 * 3 * 1 * 5 * 5}
    assert s.projection("Inputs")[2] == ((1, "R"), (2, "P"))
    assert s.tensors["Inputs"] == ("N", "C", "R", "P", "S", "Q")
    # Whole input: width 1*(3-1) + 2*(5-1) + 1 = 11, height 2 + 4 + 1 = 7, four channels.
    assert tile_words(s, "Inputs", s.ranks) == 4 * 11 * 7


@pytest.mark.parametrize("edit,message", [
    (("P: 5, ", ""), "problem.instance.P: missing (every dimension needs a size)"),
    (("Wstride: 2}", "Wstride: 0}"), "problem.instance.Wstride: 'Wstride' must be a positive integer, not 0"),
    (("[[R, Wdilation]", "[[R, Wdilation, 3]"),
     "problem.shape.data_spaces[1].projection[2][0]: a term must be [dimension] or [dimension, coefficient] "
     "with a dimension of C, M, R, S, N, P, Q, not ['R', 'Wdilation', 3]"),
    (("[[R, Wdilation]", "[[R, Wdil]"),
     "problem.shape.data_spaces[1].projection[2][0]: coefficient must be a positive integer or one of "
     "Wstride, Hstride, Wdilation, Hdilation, not 'Wdil'"),
    (("C: 4,", "C: -4,"), "problem.instance.C: 'C' must be a positive integer, not -4"),
])
def test_bad_problem_one_line(tmp_path, edit, message):
    path = tmp_path / "p.yaml"
    path.write_text(CONV2D.replace(*edit))
    with pytest.raises(WorkloadError) as err:
        read_problem(path)
    assert str(err.value) == f"{path}: {message}"


def _ex04():
    h = load_timeloop_arch(EX04 / "3levelspatial.arch.yaml")
    return h, read_problem(EX04 / "conv1d+oc+ic.prob.yaml")


def test_mapping_permutations_reverse_and_containers_target_the_level_above():
    h, s = _ex04()
    n = read_mapping(EX04 / "conv1d+oc+ic-3levelspatial-cp-ws.map.yaml", s, h)
    # "permutation: PRKC" lists P innermost: outermost first that is C, K, R, P.
    assert n.levels[1].temporal == (("C", 2), ("K", 32), ("R", 3), ("P", 1))
    # "target: PE, type: spatial" spreads C=16 over the copies below MainMemory.
    assert ("C", 16) in n.levels[0].spatial_x and n.levels[0].spatial_y == ()
    assert n.levels[2].keep is None


def test_bypass_directive():
    d = DATA / "03-3level-bypass"
    h = load_timeloop_arch(d / "3level.arch.yaml")
    s = read_problem(d / "conv1d+oc.prob.yaml")
    n = read_mapping(d / "conv1d+oc-3level-bypass.map.yaml", s, h)
    assert n.levels[1].keep == {"Weights", "Inputs"} and n.levels[2].keep == {"Outputs"}


MAP04 = (EX04 / "conv1d+oc+ic-3levelspatial-cp-ws.map.yaml").read_text()


@pytest.mark.parametrize("edits,message", [
    ([("target: GlobalBuffer", "target: GlobalBufer")],
     "mapping[1].target: unknown target 'GlobalBufer' (targets: MainMemory, GlobalBuffer, RegisterFile, PE)"),
    ([("permutation: RPKC", "permutation: RPKX")], "mapping[3].permutation: unknown rank 'X' (ranks: C, K, R, P)"),
    ([("R=1 P=16 K=1 C=1", "R=1 P=16 K=one C=1")],
     "mapping[3].factors: a factor must be RANK=N with a rank of C, K, R, P, not 'K=one'"),
    ([("type: spatial", "type: spacial")],
     "mapping[2].type: 'type' must be one of temporal, spatial, dataspace, bypass, datatype, not 'spacial'"),
    ([("R=1 P=16 K=1 C=1", "R=1 P=8 K=1 C=1")], "rank P: factors multiply to 8 (RegisterFile 8), not its size 16"),
    ([("R=1 P=1 K=1 C=16", "R=1 P=1 K=2 C=16"), ("K=32 C=2", "K=16 C=2")],
     "level MainMemory: spatial X factors multiply to 32, over the fan-out of 16 to GlobalBuffer"),
    ([("K=32 C=2", "K=1 C=2"), ("R=1 P=16 K=1 C=1", "R=1 P=16 K=32 C=1")],
     "level RegisterFile: tiles need 560 words (Weights 32, Inputs 16, Outputs 512), over its capacity of 64"),
    ([("    permutation: PRKC\n\n", "    permutation: PRKC\n  - target: GlobalBuffer\n    type: temporal\n\n")],
     "mapping[2]: a second temporal directive for GlobalBuffer"),
    ([("permutation: RPKC", "permutation: RPKC\n  - target: MainMemory\n    type: dataspace\n    bypass: [Outputs]")],
     "level MainMemory: bypasses Outputs, which then has no home (the outermost level must keep every tensor)"),
])
def test_bad_mapping_one_line(tmp_path, edits, message):
    h, s = _ex04()
    path = tmp_path / "m.yaml"
    text = MAP04
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text)
    with pytest.raises(MappingError) as err:
        read_mapping(path, s, h)
    assert str(err.value) == f"{path}: {message}"
