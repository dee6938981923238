"""Sweeps under edits, concurrency and kills: resume keys hold file contents, one writer per
--out, torn journal lines, workers that end with their parent, --jobs capped, umask honoured."""

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
from studies.journal import Journal, JournalError

HERE = Path(__file__).parent


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "my.yaml"
    p.write_text("kind: spatial\ndescription: placeholder spec for sweep tests\n")
    return p


def run(argv, capsys):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def evaluations(log: Path) -> int:
    return log.read_text().count("\n") if log.exists() else 0


def test_editing_the_spec_recomputes_on_resume(slow, spec, tmp_path, capsys):
    log, out = tmp_path / "evals.log", tmp_path / "r.json"
    argv = ["--arch", spec, "--workload", f"slow:log={log}", "--set", "x=1,2", "--out", out, "--format", "json"]
    assert run(argv, capsys)[0] == 0 and evaluations(log) == 2
    assert run(argv + ["--resume"], capsys)[0] == 0 and evaluations(log) == 2      # unchanged: nothing rerun
    spec.write_text(spec.read_text() + "# edited\n")
    status, _, err = run(argv + ["--resume"], capsys)
    assert status == 0 and evaluations(log) == 4, err                              # edited: both rerun


def test_a_matrix_file_is_part_of_the_key(tmp_path):
    m = tmp_path / "a.mtx"
    m.write_text("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 1 1.0\n")
    (p1,) = sweep.expand("piuma", [("spgemm", {"matrix": str(m)})], [], "analytical")
    m.write_text("%%MatrixMarket matrix coordinate real general\n2 2 1\n2 2 1.0\n")
    (p2,) = sweep.expand("piuma", [("spgemm", {"matrix": str(m)})], [], "analytical")
    assert p1.params == p2.params and p1.key != p2.key
    assert [f for f, _ in p1.inputs] == [str(sweep.input_files("piuma", "spgemm", {})[0]), str(m)]


def test_a_second_sweep_on_the_same_out_is_refused(slow, spec, tmp_path, capsys):
    out = tmp_path / "r.json"
    held = Journal(tmp_path / "r.json.journal.jsonl").open()       # another sweep holds the lock
    try:
        status, _, err = run(["--arch", spec, "--workload", "slow:x=1", "--out", out, "--resume"], capsys)
    finally:
        held.close()
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"explore: error: --out {out}: another sweep is writing to it")
    assert not out.exists()


def _explore(args, cwd):
    code = ("import sys; sys.path.insert(0, %r)\n"
            "import studies.families as f; f.FAMILIES['slow'] = 'slowfam'\n"
            "from studies.cli import main; sys.exit(main(%r))\n" % (str(HERE), [str(a) for a in args]))
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))     # this checkout, not an installed copy
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_two_concurrent_sweeps_one_runs_one_is_refused(spec, tmp_path):
    out = tmp_path / "r.json"
    args = ["--arch", spec, "--workload", "slow:delay=2", "--set", "x=1,2,3,4,5", "--out", out,
            "--format", "json", "--quiet", "--resume"]
    first = _explore(args, tmp_path)
    journal = tmp_path / "r.json.journal.jsonl"
    deadline = time.time() + 30
    while not journal.exists() and time.time() < deadline:
        time.sleep(0.02)
    second = _explore(args, tmp_path)
    _, err2 = second.communicate(timeout=60)
    assert first.poll() is None, "the first sweep must still run for this test to mean anything"
    _, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert second.returncode == 2 and err2.decode().count("\n") == 1 and b"another sweep is writing" in err2
    keys = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert len(keys) == 5 == len(set(keys))                        # every point once
    assert sorted(r["x"] for r in json.loads(out.read_text())) == [1, 2, 3, 4, 5]


def test_a_torn_last_line_is_dropped_and_its_point_recomputed(slow, spec, tmp_path, capsys):
    log, out = tmp_path / "evals.log", tmp_path / "r.json"
    argv = ["--arch", spec, "--workload", f"slow:log={log}", "--set", "x=1,2,3", "--out", out, "--format", "json"]
    assert run(argv, capsys)[0] == 0
    journal = tmp_path / "r.json.journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + lines[1] + lines[2][:25])     # a kill in the middle of the third write
    out.unlink()
    status, _, err = run(argv + ["--resume"], capsys)
    assert status == 0 and "1 points in" in err and "2 resumed, 1 torn journal line dropped and recomputed" in err
    assert evaluations(log) == 4
    assert [json.loads(line)["record"]["x"] for line in journal.read_text().splitlines()] == [1, 2, 3]
    assert sorted(r["x"] for r in json.loads(out.read_text())) == [1, 2, 3]


def test_a_damaged_line_before_the_last_is_refused(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"key": "a", "record": {}}\nGARBAGE\n{"key": "b", "record": {}}\n')
    with pytest.raises(JournalError, match=r"j.jsonl: line 2 is not a journal record"):
        Journal(path).open().read()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_follow_the_umask(slow, spec, tmp_path, capsys, umask, mode):
    out = tmp_path / "r.csv"
    old = os.umask(umask)
    try:
        assert run(["--arch", spec, "--workload", "slow:x=1", "--out", out, "--format", "csv", "--quiet"], capsys)[0] == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == mode
    assert (tmp_path / "r.csv.journal.jsonl").stat().st_mode & 0o777 == mode


def test_jobs_are_capped_at_the_points(slow, spec, tmp_path, capsys, monkeypatch):
    seen = []
    real = sweep.worker_pool
    monkeypatch.setattr(sweep, "worker_pool", lambda jobs: seen.append(jobs) or real(jobs))
    status, out, _ = run(["--arch", spec, "--workload", "slow:x=1", "--set", "y=1,2", "--jobs", "16",
                          "--format", "json", "--quiet"], capsys)
    assert status == 0 and seen == [2] and len(json.loads(out)) == 2


def test_a_refused_sweep_leaves_no_journal(slow, spec, tmp_path, capsys):
    out = tmp_path / "r.json"
    status, _, _ = run(["--arch", spec, "--workload", "slow:x=abc", "--out", out], capsys)
    assert status == 2 and not out.exists() and not (tmp_path / "r.json.journal.jsonl").exists()


def _children(pid):
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                kids.append(int(entry.name))
    return kids


def _running(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_parent_is_killed(spec, tmp_path):
    args = ["--arch", spec, "--workload", "slow:delay=5", "--set", "x=1,2,3,4", "--jobs", "2",
            "--out", tmp_path / "r.json", "--quiet"]
    proc = _explore(args, tmp_path)
    deadline, workers = time.time() + 30, []
    while len(workers) < 2 and time.time() < deadline:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while any(_running(w) for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _running(w)], "a pool worker outlived its parent"


def test_die_with_parent_exits_at_once_when_the_parent_is_already_gone(tmp_path):
    code = textwrap.dedent("""
        import os
        from studies.pool import die_with_parent
        die_with_parent(os.getppid() + 1)    # not our parent: as if it had died during the start
        print("still running")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(HERE.parents[1])))
    assert res.returncode == 1 and "still running" not in res.stdout


def test_a_fresh_sweep_refuses_a_journal_filled_just_before_it(tmp_path):
    # two sweeps without --resume: both saw no file, the first finished before the second locked
    path = tmp_path / "r.json.journal.jsonl"
    path.write_text('{"key": "a", "record": {}}\n')
    with pytest.raises(JournalError, match=r"^--out: file exists; pass --resume"):
        Journal(path).open(fresh=True)
    Journal(path).open(fresh=False).close()        # --resume takes it
