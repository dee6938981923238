"""The ZigZag side-by-side study without ZigZag: one clear line, exit status 0."""

import subprocess
import sys
from pathlib import Path

from studies import vs_zigzag

ROOT = Path(__file__).resolve().parents[2]


def test_missing_interpreter_says_not_found_and_exits_0():
    proc = subprocess.run([sys.executable, "-m", "studies.vs_zigzag", "--zigzag-python", "/nonexistent"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ZigZag not found")
    assert "/nonexistent" in lines[0]
    assert proc.stderr == ""


def test_unusable_interpreter_is_reported_not_raised(tmp_path, capsys):
    # An interpreter that runs but prints nothing a ZigZag driver would: reported in one line.
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'Traceback: no zigzag here' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert vs_zigzag.main(["--zigzag-python", str(fake)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("ZigZag not found or not usable")
    assert "exit 1" in out[0]
