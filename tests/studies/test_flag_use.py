"""Every flag given to explore is honoured or refused in one line: none is parsed and ignored."""

import json

import pytest

from studies import cli, fusemax


def run(argv, capsys):
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("argv, message", [
    (["--study", "fusemax", "--arch", "fusemax"], "--arch does not apply to --study fusemax"),
    (["--study", "fusemax", "--workload", "attention"], "--workload does not apply to --study fusemax"),
    (["--study", "smash", "--dask", "tcp://h:1"], "--dask does not apply to --study smash"),
    (["--study", "fusemax", "--resume", "--out", "x.json"], "--resume does not apply to --study fusemax"),
    (["--study", "smash", "--trace", "t.json"], "--trace does not apply to --study smash"),
    (["--study", "fusemax", "--set", "pe_dim=64"],
     "--set pe_dim: --study fusemax takes no such parameter (accepted: batch, dram_staging)"),
    (["--study", "smash", "--set", "cores=4"], "--set cores: --study smash takes no such parameter (accepted: edge_factor, matrices, max_scale, min_scale)"),
    (["--study", "fusemax", "--set", "dram_staging=yes,no"],
     "--set dram_staging=yes,no: --study fusemax takes one value per parameter, not 2"),
    (["--list", "--arch", "systolic"], "--list takes no other flag, not --arch"),
    (["--arch", "systolic", "--dask", "tcp://h:1", "--jobs", "2"], "--jobs does not apply with --dask"),
    (["--arch", "systolic", "--workload", "gemm:M=4,N=4,K=4,objective=energy"],
     "gemm: 'objective' applies to mapped GEMMs only, and 'systolic' is systolic"),
    (["--arch", "fusemax", "--workload", "gemm:M=4,N=4,K=4,bandwidth=dram"],
     "gemm: 'bandwidth' applies to systolic GEMMs only, and 'fusemax' is mapped by the mapper"),
    (["--arch", "fusemax", "--workload", "gemm:M=4,N=4,K=4,dataflow=ws"], "gemm: 'dataflow' applies to systolic GEMMs only"),
    (["--arch", "piuma", "--workload", "spgemm:matrix=m.mtx,seed=3"], "spgemm: 'seed' applies to rmat and uniform only"),
])
def test_a_flag_that_cannot_be_honoured_is_refused(argv, message, capsys):
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("explore: error: ") and message in err


def test_study_flags_become_the_studys_own():
    args = cli.build_parser().parse_args(["--study", "fusemax", "--set", "dram_staging=no", "--set", "batch=8",
                                          "--engine", "des", "--jobs", "2", "--format", "csv"])
    argv = cli._study_argv(args)
    assert argv == ["--format", "csv", "--engine", "des", "--jobs", "2", "--dram-staging", "no", "--batch", "8"]
    args = cli.build_parser().parse_args(["--study", "smash", "--arch", "my.yaml", "--quiet"])
    assert cli._study_argv(args) == ["--format", "table", "--engine", "analytical", "--arch", "my.yaml", "--quiet"]


def test_dram_staging_changes_the_study(capsys):
    """The issue's case: ``--set dram_staging=no`` ran and every record equalled the default.
    The default now follows the files' keep/bypass (``no``); ``yes`` adds the buffer energy of
    the DRAM traffic the files bypass: energies rise, cycles stay (docs/fusemax.md)."""
    base = ["--models", "bert", "--seq-lens", "1K", "--configs", "flat,fusemax", "--format", "json"]
    assert fusemax.main(base) == 0
    no = json.loads(capsys.readouterr().out)
    assert fusemax.main(base + ["--dram-staging", "yes"]) == 0
    yes = json.loads(capsys.readouterr().out)
    assert [r["cycles"] for r in no] == [r["cycles"] for r in yes]
    assert all(n["energy_pj"] < y["energy_pj"] for n, y in zip(no, yes))
