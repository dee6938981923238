"""``studies.explore`` returns what ``explore --format csv`` prints, as a DataFrame.

The expected frames are the real command line's output: ``python -m studies.cli`` run in a
subprocess on this checkout, its stdout read with ``pandas.read_csv``.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from arch.errors import AccelError, WorkloadError
from studies import explore, to_records
from studies.progress import Progress

ROOT = Path(__file__).resolve().parents[2]


def _cli_output(argv, fmt):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "studies.cli", *argv, "--format", fmt], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _cli_frame(argv):
    return pd.read_csv(io.StringIO(_cli_output(argv, "csv")))


def test_gemm_on_systolic_two_workloads_and_sets():
    got = explore(arch="systolic", workload=["gemm:M=64,N=32,K=64", "gemm:M=32,N=32,K=96"],
                  sets={"dataflow": ["os", "ws", "is"], "rows": 16})
    want = _cli_frame(["--arch", "systolic", "--workload", "gemm:M=64,N=32,K=64", "--workload",
                       "gemm:M=32,N=32,K=96", "--set", "dataflow=os,ws,is", "--set", "rows=16"])
    assert len(got) == 6
    pd.testing.assert_frame_equal(got, want)


def test_attention_on_fusemax_des_two_jobs():
    got = explore(arch="fusemax", workload="attention:model=bert,seq_len=1M", sets={"pe_dim": [128, 256]},
                  engine="des", jobs=2)
    want = _cli_frame(["--arch", "fusemax", "--workload", "attention:model=bert,seq_len=1M",
                       "--set", "pe_dim=128,256", "--engine", "des", "--jobs", "2"])
    assert list(got["pe_dim"]) == [128, 256]
    pd.testing.assert_frame_equal(got, want)


def test_mapping_is_the_mapping_flag():
    # A cascade with a shipped mapping, and a file written from a record's mapping: the frame is
    # what the command line prints with --mapping.
    w = "cascade:name=attention-1pass,model=bert,seq_len=4K"
    got = explore(arch="fusemax", workload=w, mapping="fusemax")
    pd.testing.assert_frame_equal(got, _cli_frame(["--arch", "fusemax", "--workload", w, "--mapping", "fusemax"]))
    # the shipped file's own binding (mappings/shipped/fusemax.yaml: SLN on the 2D array)
    assert got.loc[0, "mapping.einsums.SLN.unit"] == "pe2d"
    with pytest.raises(WorkloadError, match="only cascade: and spgemm: workloads take a mapping"):
        explore(arch="systolic", workload="gemm:M=64,N=32,K=64", mapping="fusemax")


def test_default_workloads_of_a_preset():
    pd.testing.assert_frame_equal(explore(arch="mmfree"), _cli_frame(["--arch", "mmfree"]))


def test_study_fusemax():
    got = explore(study="fusemax", sets={"batch": 8})
    want = _cli_frame(["--study", "fusemax", "--set", "batch=8"])
    assert set(got["config"]) >= {"fusemax", "flat"}
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "--arch is required (a preset name from --list, or a .yaml spec)"),
    (dict(arch="systolic", engine="fast"), "explore: argument --engine: invalid choice: 'fast' (choose from 'analytical', 'des')"),
    (dict(arch="systolic", sets={"rows": ["8,16"]}), "explore: sets['rows'] values must be non-empty and hold no comma, not ['8,16']"),
    (dict(arch="systolic", sets=["rows=8"]), "explore: 'sets' must be a dict of parameter -> values, not list"),
    (dict(arch="systolic", workload=[3]), "explore: 'workload' must be a string or a list of strings, not 3"),
    (dict(study="fusemax", workload="gemm"), "--workload does not apply to --study fusemax (it runs its own design points)"),
    (dict(arch="systolic", workload="gemm", trace="t.json"), "--trace needs --engine des"),
])
def test_bad_arguments_raise_one_line(kwargs, message):
    with pytest.raises(WorkloadError) as info:
        explore(**kwargs)
    assert str(info.value) == message


def test_bad_preset_and_study_flag_raise_not_exit():
    with pytest.raises(AccelError):
        explore(arch="no-such-preset")
    # The study's own parser refuses the value: a one-line exception, not SystemExit.
    with pytest.raises(WorkloadError, match=r"--batch: .*0"):
        explore(study="fusemax", sets={"batch": 0})


def test_to_records_gives_back_what_json_prints():
    # The records the plots take: the command line's own JSON output, nested dicts included.
    args = dict(arch="systolic", workload="gemm:M=64,N=32,K=64", sets={"dataflow": ["os", "ws"], "rows": [8, 16]})
    want = json.loads(_cli_output(["--arch", "systolic", "--workload", "gemm:M=64,N=32,K=64",
                                   "--set", "dataflow=os,ws", "--set", "rows=8,16"], "json"))
    got = to_records(explore(**args))
    assert len(got) == 4 and set(got[0]["energy_breakdown"]) >= {"array", "dram"}
    assert got == want


def test_to_records_nests_dotted_columns_and_leaves_out_empty_cells():
    frame = pd.DataFrame({"kernel": ["inner", "smash-v3"], "rmat": [9.0, float("nan")],
                          "utilization.dram": [0.25, 0.5], "utilization.atomic_unit": [float("nan"), 0.125]})
    assert to_records(frame) == [
        {"kernel": "inner", "rmat": 9.0, "utilization": {"dram": 0.25}},
        {"kernel": "smash-v3", "utilization": {"dram": 0.5, "atomic_unit": 0.125}},
    ]
    assert to_records(frame.iloc[1:][["kernel"]]) == [{"kernel": "smash-v3"}]


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    bar = Progress(3, enabled=True)
    bar.step(3)
    bar.close(computed=3, reused=0)
    assert pipe.getvalue().startswith("explore: 3 points in ") and "\r" not in pipe.getvalue()

    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    bar = Progress(3, enabled=True)
    bar.step(2)
    bar.close(computed=2, reused=1)
    assert "2/3" in tty.getvalue() and ", 1 resumed\n" in tty.getvalue()

    quiet = _Tty()
    monkeypatch.setattr(sys, "stderr", quiet)
    bar = Progress(3, enabled=False)
    bar.step(3)
    bar.close(computed=3, reused=0)
    assert quiet.getvalue() == ""
