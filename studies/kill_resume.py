"""Kill -9 a ``--jobs 2`` sweep at five moments, resume it, and compare with an uninterrupted run.

What it shows: a sweep's journal (:mod:`studies.journal`) keeps every point that finished before
a ``kill -9``, ``--resume`` computes only the rest and writes an output byte-identical to a run
that was never interrupted, and the pool's workers (:mod:`studies.pool`) end with the killed
parent instead of computing on as orphans.

The sweep is 12 SpGEMM points (six kernels x two core counts, R-MAT scale 12, event loop), about
a second each. The five moments: as soon as the pool's workers exist (nothing journaled yet),
and after 1, 4, 7 and 11 of the 12 records reached the journal. For each trial the script lists
the parent's worker processes just before the kill and checks, within 5 s, that each has ended
(gone, or a zombie waiting to be reaped), then runs ``--resume`` and compares bytes.

Usage::

    python -m studies.kill_resume [--workdir DIR]

Prints one line per trial, then the ``ps`` lines of any ``studies.cli`` process of these trials
still alive;
exit status 0 when every trial is identical and no worker outlived its parent, else 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = ["--arch", "piuma", "--workload", "spgemm:rmat=12,edge_factor=16",
         "--set", "kernel=inner,outer,rowwise-dram,smash-v1,smash-v2,smash-v3", "--set", "cores=2,4",
         "--engine", "des", "--jobs", "2", "--format", "json"]
POINTS = 12
#: (label, records in the journal before the kill; 0: as soon as the workers exist)
MOMENTS = [("workers started", 0), ("after 1 record", 1), ("after 4 records", 4), ("after 7 records", 7),
           ("after 11 records", 11)]


def _explore(args, cwd, **kw):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.Popen([sys.executable, "-m", "studies.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def _children(pid: int) -> list:
    """Process ids whose parent is ``pid`` (read from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has ended: it only waits to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _journal_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def trial(workdir: Path, n: int, label: str, records: int, reference: bytes) -> bool:
    """One kill -9 and resume; prints its line and returns True when all is well."""
    out = workdir / f"trial{n}.json"
    journal = out.with_name(out.name + ".journal.jsonl")
    proc = _explore(SWEEP + ["--out", str(out), "--quiet"], workdir)
    t0, workers = time.time(), set()
    while proc.poll() is None and time.time() - t0 < 120:
        workers.update(_children(proc.pid))
        if workers and _journal_lines(journal) >= records:
            break
        time.sleep(0.01)
    workers.update(_children(proc.pid))
    if proc.poll() is not None:
        print(f"{label}: the sweep ended before the kill; make it longer")
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = _journal_lines(journal)
    deadline = time.time() + 5
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.05)
    orphans = sorted(w for w in workers if _alive(w))
    resume = _explore(SWEEP + ["--out", str(out), "--resume"], workdir)
    _, err = resume.communicate(timeout=600)
    same = resume.returncode == 0 and out.read_bytes() == reference
    summary = err.strip().splitlines()[-1] if err.strip() else ""
    print(f"{label:18s} journaled {at_kill:2d}/{POINTS}, workers {len(workers)} "
          f"{'all ended' if not orphans else f'ALIVE {orphans}'}; resume: {summary!r}; "
          f"byte-identical: {'yes' if same else 'NO'}")
    return same and not orphans


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.kill_resume", description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None, help="where the outputs go (default: a temporary folder)")
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kill_resume."))
    workdir.mkdir(parents=True, exist_ok=True)
    ref = workdir / "reference.json"
    for stale in workdir.glob("*.json*"):
        stale.unlink()
    done = _explore(SWEEP + ["--out", str(ref)], workdir)
    _, err = done.communicate(timeout=600)
    if done.returncode != 0:
        print(f"reference sweep failed: {err.strip()}")
        return 1
    print(f"reference: {err.strip()} -> {ref} ({ref.stat().st_size} bytes)")
    ok = all([trial(workdir, n, label, records, ref.read_bytes()) for n, (label, records) in enumerate(MOMENTS)])
    ps = subprocess.run(["ps", "-eo", "pid,ppid,stat,args"], capture_output=True, text=True).stdout.splitlines()
    left = [line for line in ps if "studies.cli" in line and str(workdir) in line]
    print(f"ps: studies.cli processes of these trials still running: {'none' if not left else len(left)}")
    for line in left:
        print("  " + line)
    return 0 if ok and not left else 1


if __name__ == "__main__":
    sys.exit(main())
