"""The timeloop family through the explore command line: Timeloop's files in, its counts out."""

import json
from pathlib import Path

import pytest

from studies import cli
from studies.output import flatten
from tests.arch.test_hierarchy import SPEC

DATA = Path(__file__).resolve().parents[1] / "data" / "timeloop"
EX04 = DATA / "04-3levelspatial-cp"
ARCH = str(EX04 / "3levelspatial.arch.yaml")
PROB = EX04 / "conv1d+oc+ic.prob.yaml"
MAP = EX04 / "conv1d+oc+ic-3levelspatial-cp-ws.map.yaml"
ERT = EX04 / "timeloop-model.ERT.yaml"


def _run(capsys, *argv):
    status = cli.main(list(argv) + ["--quiet"])
    out, err = capsys.readouterr()
    return status, out, err


def test_issue_command_line(capsys):
    status, out, _ = _run(capsys, "--arch", ARCH, "--workload", f"timeloop:problem={PROB},mapping={MAP},ert={ERT}",
                          "--format", "json")
    assert status == 0
    (rec,) = json.loads(out)
    for key in ("arch", "workload", "engine", "cycles", "seconds", "computes", "energy_pj", "dram_bytes",
                "accesses", "energy_breakdown", "utilization"):
        assert key in rec
    # timeloop-model.stats.txt of exercise 04 (cp), see tests/sim/test_nest.py: 3072 cycles,
    # 49152 computes; GlobalBuffer Inputs 1152 reads and 36 fills per instance, 16 instances;
    # 13011.43 fJ per compute.
    assert rec["cycles"] == 3072 and rec["computes"] == 49152
    assert rec["accesses"]["GlobalBuffer"]["Inputs"] == {"reads": 1152 * 16, "fills": 36 * 16, "updates": 0}
    assert rec["energy_pj"] == pytest.approx(13011.43 * 49152 / 1000, abs=0.005 * 49152 / 1000)
    assert rec["utilization"] == {"MACC": 1.0}
    # the breakdown follows every family's contract, component -> pJ, summing to the total
    assert sum(rec["energy_breakdown"].values()) == pytest.approx(rec["energy_pj"])
    assert rec["energy_breakdown"]["GlobalBuffer"] == pytest.approx(sum(rec["energy_by_action"]["GlobalBuffer"].values()))
    assert rec["seconds"] == pytest.approx(3072e-9)
    flat = flatten(rec)
    assert flat["accesses.GlobalBuffer.Inputs.reads"] == 18432


def test_csv_flattens_accesses_with_dots(capsys):
    status, out, _ = _run(capsys, "--arch", ARCH, "--workload", f"timeloop:problem={PROB},mapping={MAP}",
                          "--format", "csv")
    assert status == 0
    header = out.splitlines()[0].split(",")
    assert "accesses.RegisterFile.Outputs.updates" in header


def test_own_hierarchy_spec_gives_the_same_counts(capsys, tmp_path):
    """Exercise 04 written in our kind: hierarchy format (the ERT's energies copied into it)."""
    own = tmp_path / "h.yaml"
    own.write_text(SPEC)
    runs = {}
    for name, arch, ert in (("timeloop", ARCH, f",ert={ERT}"), ("own", str(own), "")):
        status, out, _ = _run(capsys, "--arch", arch, "--workload", f"timeloop:problem={PROB},mapping={MAP}{ert}",
                              "--format", "json")
        assert status == 0
        runs[name] = json.loads(out)[0]
    assert runs["own"]["accesses"] == runs["timeloop"]["accesses"]
    assert runs["own"]["cycles"] == runs["timeloop"]["cycles"]
    assert runs["own"]["energy_pj"] == pytest.approx(runs["timeloop"]["energy_pj"])


@pytest.mark.parametrize("workload,message", [
    ("timeloop", "timeloop: 'problem' is required (timeloop:problem=P.prob.yaml,mapping=M.map.yaml)"),
    (f"timeloop:problem={PROB},mapping=nope.map.yaml",
     f"timeloop:mapping=nope.map.yaml,problem={PROB}: nope.map.yaml: cannot read file (No such file or directory)"),
    (f"timeloop:problem={PROB},mapping={MAP},colour=red",
     "timeloop: unknown parameter 'colour' (accepted: constraints, ert, mapping, objective, problem, time_limit)"),
])
def test_bad_input_exit_2_one_line(capsys, workload, message):
    status, out, err = _run(capsys, "--arch", ARCH, "--workload", workload)
    assert status == 2
    assert err == f"explore: error: {message}\n"


def test_engine_des_refused(capsys):
    status, _, err = _run(capsys, "--arch", ARCH, "--workload", f"timeloop:problem={PROB},mapping={MAP}",
                          "--engine", "des")
    assert status == 2
    assert "engine must be analytical (Timeloop's closed-form model), not 'des'" in err


GEMM_PROBLEM = """\
problem:
  version: 0.4
  shape:
    name: GEMM
    dimensions: [M, N, K]
    data_spaces:
    - {name: A, projection: [[[M]], [[K]]]}
    - {name: B, projection: [[[K]], [[N]]]}
    - {name: Z, projection: [[[M]], [[N]]], read_write: true}
  instance: {M: 8, N: 8, K: 8}
"""

GEMM_HIERARCHY = """\
kind: hierarchy
description: DRAM, a global buffer, four register files with a MAC each
levels:
  - {name: DRAM, word_bits: 8, block_words: 4, energy_pj: {read: 100, fill: 100, update: 100}}
  - {name: GLB, size_words: 1024, word_bits: 8, energy_pj: {read: 2, fill: 2, update: 2}}
  - {name: RF, fanout: {x: 4}, size_words: 64, word_bits: 8, energy_pj: {read: 0.5, fill: 0.5, update: 0.5}}
compute: {name: MAC, energy_pj: {compute: 1}}
"""

GEMM_MAPPING = """\
mapping:
  - {target: GLB, type: temporal, factors: M=2 N=2 K=1, permutation: NMK}
  - {target: GLB, type: spatial, factors: N=4, permutation: N}
  - {target: RF, type: temporal, factors: M=4 K=8 N=1, permutation: KMN}
"""


def test_gemm_on_our_own_hierarchy(capsys, tmp_path):
    """An 8x8x8 GEMM on our own three-level spec, counted by hand: the global buffer walks
    2 M-tiles (outer) x 2 N-tiles, spreading 4 columns of N over the register files; each register
    file keeps a 4x8 tile of A, an 8x1 tile of B and a 4x1 tile of Z and runs 4 x 8 steps."""
    files = {}
    for name, text in (("gemm.prob.yaml", GEMM_PROBLEM), ("h.yaml", GEMM_HIERARCHY), ("m.map.yaml", GEMM_MAPPING)):
        files[name] = tmp_path / name
        files[name].write_text(text)
    status, out, err = _run(capsys, "--arch", str(files["h.yaml"]), "--format", "json", "--workload",
                            f"timeloop:problem={files['gemm.prob.yaml']},mapping={files['m.map.yaml']}")
    assert status == 0, err
    (rec,) = json.loads(out)
    macs, rfs = 8 * 8 * 8, 4
    steps = macs // rfs  # 128 per MAC
    assert rec["cycles"] == steps and rec["computes"] == macs
    rf = rec["accesses"]["RF"]
    # A: one 32-word tile per M-tile, kept across the N-tiles inside it: 2 x 32 per register file.
    assert rf["A"] == {"reads": rfs * steps, "fills": rfs * 2 * 32, "updates": 0}
    # B: a new 8-word column for each of the 2 x 2 tiles.
    assert rf["B"] == {"reads": rfs * steps, "fills": rfs * 4 * 8, "updates": 0}
    # Z: each register file finishes its 4 x 4 = 16 outputs in place: 128 updates, 128 - 16 reads.
    assert rf["Z"] == {"reads": rfs * (steps - 16), "fills": 0, "updates": rfs * steps}
    glb = rec["accesses"]["GLB"]
    # A is the same for the 4 columns (multicast): 64 reads; B differs per column: 4 x 32.
    assert glb["A"] == {"reads": 64, "fills": 64, "updates": 0}
    assert glb["B"] == {"reads": 128, "fills": 64, "updates": 0}
    assert glb["Z"] == {"reads": 0, "fills": 0, "updates": 64}
    assert rec["accesses"]["DRAM"] == {"A": {"reads": 64, "fills": 0, "updates": 0},
                                       "B": {"reads": 64, "fills": 0, "updates": 0},
                                       "Z": {"reads": 0, "fills": 0, "updates": 64}}
    # Energy: DRAM in 4-word blocks (16 + 16 + 16 accesses of 100 pJ), GLB and RF per word, 1 pJ a MAC.
    glb_words = 64 + 64 + 128 + 64 + 64
    rf_words = 4 * (128 + 64) + 4 * (128 + 32) + 4 * (112 + 128)
    assert rec["energy_pj"] == pytest.approx(48 * 100 + glb_words * 2 + rf_words * 0.5 + macs)
