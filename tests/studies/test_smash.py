"""The SMASH study: speedups over the best non-hashing kernel, engines, process pool, plot, bad flags."""

import json
import shutil
from pathlib import Path

import matplotlib.image
import pytest

from studies import smash
from studies.cli import main as explore

DATA = Path(__file__).resolve().parents[1] / "data" / "matrices"
NON_HASHING = ("inner", "outer", "rowwise-dram")


@pytest.fixture
def small(tmp_path, monkeypatch):
    """A matrix folder with karate and west0067; R-MAT scales 6-7 by default."""
    folder = tmp_path / "m"
    folder.mkdir()
    for name in ("karate.mtx", "west0067.mtx"):
        shutil.copy(DATA / name, folder / name)
    monkeypatch.setattr(smash, "DEFAULT_DIR", folder)
    monkeypatch.setattr(smash, "MIN_SCALE", 6)
    monkeypatch.setattr(smash, "MAX_SCALE", 7)
    return folder


def run_json(capsys, argv):
    rc = smash.main(argv + ["--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_speedups_are_over_the_best_non_hashing_kernel(capsys, small):
    recs = run_json(capsys, [])
    assert len(recs) == 6 * (2 + 2) and {r["engine"] for r in recs} == {"des"}
    for m in {r["matrix"] for r in recs}:
        group = {r["kernel"]: r for r in recs if r["matrix"] == m}
        best = min(NON_HASHING, key=lambda k: group[k]["cycles"])
        for k, r in group.items():
            assert r["baseline"] == best
            assert r["speedup"] == pytest.approx(group[best]["cycles"] / r["cycles"])
        assert max(group[k]["speedup"] for k in NON_HASHING) == 1.0


def test_engine_is_honoured(capsys, small):
    des = run_json(capsys, ["--engine", "des", "--max-scale", "6"])
    ana = run_json(capsys, ["--engine", "analytical", "--max-scale", "6"])
    assert {r["engine"] for r in ana} == {"analytical"}
    cyc = {(r["matrix"], r["kernel"]): r["cycles"] for r in des}
    assert len(ana) == len(des) == 6 * 3
    for r in ana:
        # the bound never exceeds the event loop; the counts are the same
        assert r["cycles"] <= cyc[(r["matrix"], r["kernel"])]
    assert [(r["flops"], r["dram_bytes"], r["energy_pj"]) for r in ana] == [(r["flops"], r["dram_bytes"], r["energy_pj"]) for r in des]


def test_jobs_give_the_same_records_as_one_process(capsys, small):
    one = run_json(capsys, ["--max-scale", "6"])
    two = run_json(capsys, ["--max-scale", "6", "--jobs", "2"])
    assert two == one


def test_plot_is_a_png(capsys, small, tmp_path):
    png = tmp_path / "s.png"
    recs = run_json(capsys, ["--min-scale", "6", "--max-scale", "6", "--engine", "analytical", "--plot", str(png)])
    assert len(recs) == 18
    img = matplotlib.image.imread(png)
    assert img.ndim == 3 and img.shape[0] > 400 and img.shape[1] > 600


def test_explore_forwards_engine_out_plot_jobs(capsys, small, tmp_path):
    out, png = tmp_path / "r.json", tmp_path / "p.png"
    rc = explore(["--study", "smash", "--engine", "des", "--format", "json", "--out", str(out),
                  "--plot", str(png), "--jobs", "2"])
    assert rc == 0
    recs = json.loads(out.read_text())
    assert len(recs) == 24 and {r["engine"] for r in recs} == {"des"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_ends_with_the_summary(capsys, small):
    assert smash.main(["--max-scale", "6", "--engine", "analytical"]) == 0
    out = capsys.readouterr().out
    assert "engine: analytical" in out and "(SMASH thesis: 9.4x)" in out


@pytest.mark.parametrize("argv,message", [
    (["--jobs", "0"], "argument --jobs: must be a positive integer, not '0'"),
    (["--jobs", "\u00b2"], "argument --jobs: must be a positive integer, not '\u00b2'"),
    (["--engine", "exact"], "argument --engine: invalid choice: 'exact' (choose from 'analytical', 'des')"),
    (["--colour", "red"], "unrecognized arguments: --colour red"),
    (["--max-scale", "27"], "argument --max-scale: must be at most 26, not '27'"),
    (["--edge-factor", "0"], "argument --edge-factor: must be a positive integer, not '0'"),
    (["--matrices", "/no/such/folder"], "--matrices must be a folder, not '/no/such/folder'"),
    (["--plot", "/no/such/folder/p.png"], "--plot: folder '/no/such/folder' does not exist"),
    (["--format", "parquet"], "--format parquet needs --out"),
    (["--arch", "systolic", "--max-scale", "6"], "spgemm: 'arch' must be a piuma spec (kind: piuma), not 'systolic'"),
])
def test_bad_arguments_one_line_exit_2(capsys, small, argv, message):
    with pytest.raises(SystemExit) as exc:
        smash.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err == f"python -m studies.smash: error: {message}\n"


def test_no_points_is_an_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        smash.main(["--matrices", str(tmp_path), "--min-scale", "8", "--max-scale", "7"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("python -m studies.smash: error: no points: no study matrix in ")


def test_each_hashing_kernel_over_each_other_kernel(capsys, small):
    recs = run_json(capsys, ["--max-scale", "6", "--engine", "analytical"])
    for m in {r["matrix"] for r in recs}:
        cyc = {r["kernel"]: r["cycles"] for r in recs if r["matrix"] == m}
        for r in recs:
            if r["matrix"] != m:
                continue
            if not r["kernel"].startswith("smash"):
                assert "speedup_over" not in r
                continue
            assert set(r["speedup_over"]) == {"inner", "outer", "rowwise-dram", "smash-v1"}
            for other, s in r["speedup_over"].items():
                assert s == pytest.approx(cyc[other] / cyc[r["kernel"]])
            if r["kernel"] == "smash-v1":
                assert r["speedup_over"]["smash-v1"] == 1.0


def test_summary_gives_geometric_means_one_by_one(small):
    import math
    recs = [{"matrix": m, "kernel": k, "cycles": c, "energy_pj": 1.0}
            for m, cycles in (("a", (800, 400, 200, 100, 50, 25)), ("b", (200, 200, 200, 200, 200, 200)))
            for k, c in zip(("inner", "outer", "rowwise-dram", "smash-v1", "smash-v2", "smash-v3"), cycles)]
    for i in range(0, len(recs), 6):
        # the study's own bookkeeping, applied to hand-made cycles
        group = recs[i:i + 6]
        cyc = {r["kernel"]: r["cycles"] for r in group}
        for r in group:
            r["speedup"] = min(cyc["inner"], cyc["outer"], cyc["rowwise-dram"]) / r["cycles"]
            if r["kernel"].startswith("smash"):
                r["speedup_over"] = {b: cyc[b] / r["cycles"] for b in ("inner", "outer", "rowwise-dram", "smash-v1")}
    means = smash.comparisons(recs)
    # smash-v3 on a: 800/25 = 32 over inner; on b: 1 -> geometric mean sqrt(32)
    assert means["smash-v3"]["inner"] == pytest.approx(math.sqrt(32))
    assert means["smash-v2"]["smash-v1"] == pytest.approx(math.sqrt(2))
    assert means["smash-v1"]["smash-v1"] == 1.0
    text = smash.summary(recs)
    assert "geometric mean" in text and "5.66x" in text


def test_mechanisms_switched_one_at_a_time(capsys):
    from studies import smash_mechanisms as mech
    from studies.families import spgemm as family
    wl = {"matrix": str(DATA / "west0067.mtx")}
    rows = mech.effects("piuma", [wl], "analytical")
    assert [r["mechanism"] for r in rows] == ["windows", "tokens", "fragmentation", "dma in flight", "cache gathers"]
    by = {r["mechanism"]: r for r in rows}
    one = family.evaluate("piuma", dict(wl, kernel="smash-v3", dma_in_flight="1"), "analytical")
    assert by["dma in flight"]["cycles_off"] == one["cycles"]
    v2 = family.evaluate("piuma", dict(wl, kernel="smash-v2"), "analytical")
    assert by["fragmentation"]["cycles_off"] == v2["cycles"]
    for r in rows:
        assert r["speedup"] == pytest.approx(r["cycles_off"] / r["cycles_on"])
    assert 0 <= by["cache gathers"]["cache_hit_rate"] <= 1
    assert mech.main(["--engine", "analytical", "--workload", f"matrix={DATA / 'karate.mtx'}"]) == 0
    assert capsys.readouterr().out.count("| karate.mtx |") == 5
