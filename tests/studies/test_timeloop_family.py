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
     "timeloop: unknown parameter 'colour' (accepted: ert, mapping, problem)"),
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
