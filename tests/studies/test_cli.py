"""The explore command line: sweeps, formats, errors, resume after kill -9, process pool."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studies import cli, sweep
from studies.families import FAMILIES

HERE = Path(__file__).parent
SPEC = textwrap.dedent(
    """\
    kind: spatial
    description: placeholder spec for sweep tests
    """
)


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "my.yaml"
    p.write_text(SPEC)
    return str(p)


def run(argv, capsys):
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_cartesian_sweep_json_only_on_stdout(slow, spec, capsys):
    status, out, err = run(
        ["--arch", spec, "--workload", "slow:x=2", "--workload", "slow:x=3", "--set", "y=1,5,7", "--format", "json"], capsys
    )
    assert status == 0
    recs = json.loads(out)  # stdout is exactly one JSON array
    assert sorted((r["x"], r["y"]) for r in recs) == [(x, y) for x in (2, 3) for y in (1, 5, 7)]
    assert all(r["cycles"] == r["x"] * r["y"] for r in recs)
    assert all(r["arch"] == spec and r["workload"] == "slow" for r in recs)


def test_set_overrides_workload_value_and_duplicates_collapse(slow, spec):
    pts = sweep.expand(spec, [("slow", {"x": "1"}), ("slow", {"x": "2"})], [("x", ["9"])], "analytical")
    assert [dict(p.params) for p in pts] == [{"x": "9"}]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--arch", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["--arch", "missing.yaml"], "missing.yaml: no such spec file"),
        (["--arch", "{spec}", "--workload", "slow:x"], "expected key=value, not 'x'"),
        (["--arch", "{spec}", "--workload", "slow:z=1"], "unknown parameter 'z'"),
        (["--arch", "{spec}", "--workload", "nokind:x=1"], "unknown workload kind 'nokind'"),
        (["--arch", "{spec}", "--workload", "slow:x=1", "--set", "y"], "--set y: expected KEY=V1,V2"),
        (["--arch", "{spec}", "--workload", "slow:x=abc"], "'x' must be an integer, not 'abc'"),
        (["--arch", "{spec}", "--workload", "slow:x=1", "--jobs", "0"], "argument --jobs: must be a positive integer, not '0'"),
        (["--arch", "{spec}", "--workload", "slow:x=1", "--resume"], "--resume needs --out"),
        (["--arch", "{spec}", "--workload", "slow:x=1", "--trace", "t.json"], "--trace needs --engine des"),
        (["--arch", "{spec}", "--workload", "slow:x=1", "--format", "parquet"], "--format parquet needs --out"),
    ],
)
def test_bad_input_is_one_line_and_status_2(slow, spec, capsys, argv, message):
    argv = [a.replace("{spec}", spec) for a in argv]
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("explore: error: ")
    assert message in err


def test_bad_flag_value_is_one_line_and_status_2(capsys):
    assert cli.main(["--engine", "warp"]) == 2
    err = capsys.readouterr().err
    assert err == "explore: error: argument --engine: invalid choice: 'warp' (choose from 'analytical', 'des')\n"


def test_existing_output_is_refused_and_kept(slow, spec, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("precious")
    status, _, err = run(["--arch", spec, "--workload", "slow:x=1", "--out", str(out), "--format", "json"], capsys)
    assert status == 2 and "file exists; pass --resume" in err
    assert out.read_text() == "precious"


def test_formats_round_trip(slow, spec, tmp_path, capsys):
    import pandas as pd

    base = ["--arch", spec, "--workload", "slow:x=4", "--set", "y=2,3", "--quiet"]
    for fmt in ("csv", "parquet", "json"):
        path = tmp_path / f"r.{fmt}"
        assert cli.main(base + ["--format", fmt, "--out", str(path)]) == 0
        if fmt == "json":
            recs = json.loads(path.read_text())
            assert recs[0]["utilization"] == {"pe": 0.5}
        else:
            df = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
            assert list(df["cycles"]) == [8, 12]
            assert list(df["energy_breakdown.dram"]) == [2.0, 3.0]  # nested keys flattened
    status, out, _ = run(base + ["--format", "table"], capsys)
    assert status == 0 and "cycles" in out and "utilization.pe" in out


def test_plot_writes_png(slow, spec, tmp_path, capsys):
    png = tmp_path / "p.png"
    status, _, _ = run(["--arch", spec, "--workload", "slow:x=1", "--set", "y=1,2,3", "--plot", str(png), "--quiet"], capsys)
    assert status == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_process_pool_gives_the_same_records(slow, spec, capsys):
    base = ["--arch", spec, "--workload", "slow:x=3", "--set", "y=1,2,3,4", "--format", "json", "--quiet"]
    _, serial, _ = run(base, capsys)
    _, pooled, _ = run(base + ["--jobs", "2"], capsys)
    assert json.loads(serial) == json.loads(pooled)


def _explore_subprocess(args, tmp_path):
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import studies.families as f; f.FAMILIES['slow'] = 'slowfam'\n"
        "from studies.cli import main; sys.exit(main(%r))\n" % (str(HERE), args)
    )
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))     # this checkout, not an installed copy
    return subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_resume_after_kill_9_recomputes_nothing_finished(spec, tmp_path):
    log = tmp_path / "evals.log"
    out = tmp_path / "sweep.json"
    journal = tmp_path / "sweep.json.journal.jsonl"
    args = ["--arch", spec, "--workload", f"slow:delay=0.15,log={log}", "--set", "x=" + ",".join(map(str, range(12))), "--format", "json", "--out", str(out), "--quiet"]
    proc = _explore_subprocess(args, tmp_path)
    deadline = time.time() + 30
    while time.time() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {json.loads(line)["record"]["x"] for line in journal.read_text().splitlines() if line.endswith("}")}
    assert 3 <= len(finished) < 12, "the sweep must be interrupted part-way for this test to mean anything"
    assert not out.exists()
    evals_before = log.read_text().count("\n")

    proc = _explore_subprocess(args + ["--resume"], tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    recs = json.loads(out.read_text())
    assert sorted(r["x"] for r in recs) == list(range(12))
    later = [json.loads(line)["x"] for line in log.read_text().splitlines()[evals_before:]]
    assert not set(int(x) for x in later) & finished, "a finished point was recomputed"
    assert len(later) == 12 - len(finished)
