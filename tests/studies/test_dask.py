"""The same sweep on a local Dask distributed cluster gives the same records as serially."""

import json
from pathlib import Path

import pytest

from studies import cli
from studies.families import FAMILIES

HERE = str(Path(__file__).parent)


# Run on every worker (as text: a function of this test module would be pickled by reference
# to a module the workers cannot import).
REGISTER = f"""
if {HERE!r} not in sys.path:
    sys.path.insert(0, {HERE!r})
import studies.families
studies.families.FAMILIES["slow"] = "slowfam"
"""


def test_dask_local_cluster_matches_serial(monkeypatch, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    monkeypatch.syspath_prepend(HERE)
    monkeypatch.setitem(FAMILIES, "slow", "slowfam")
    spec = tmp_path / "s.yaml"
    spec.write_text("kind: spatial\n")
    argv = ["--arch", str(spec), "--workload", "slow:x=2", "--set", "y=1,2,3,4,5", "--format", "json", "--quiet"]
    assert cli.main(argv) == 0
    serial = json.loads(capsys.readouterr().out)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            client.run(exec, REGISTER)
            assert all(client.run(lambda: __import__("studies.families").families.FAMILIES.get("slow") == "slowfam").values())
        assert cli.main(argv + ["--dask", cluster.scheduler_address]) == 0
    assert json.loads(capsys.readouterr().out) == serial


def test_unreachable_scheduler_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.syspath_prepend(HERE)
    monkeypatch.setitem(FAMILIES, "slow", "slowfam")
    spec = tmp_path / "s.yaml"
    spec.write_text("kind: spatial\n")
    status = cli.main(["--arch", str(spec), "--workload", "slow:x=2", "--dask", "tcp://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("explore: error: --dask tcp://127.0.0.1:9: cannot reach the scheduler")
