"""The gemm family through the explore command line: the issue's contract, values from SCALE-Sim."""

import json

import pytest

from studies import cli
from studies.families import gemm

# SCALE-Sim 3.0.0 "Total Cycles" for these points (see tests/sim/test_systolic.py for how).
SCALESIM = {
    (256, 128, 256, 32, 32, "os"): 10175, (256, 128, 256, 32, 32, "ws"): 11199,
    (256, 128, 256, 32, 32, "is"): 14207, (17, 250, 64, 16, 64, "os"): 1135,
    (17, 250, 64, 16, 64, "ws"): 1775, (17, 250, 64, 16, 64, "is"): 1375,
    (17, 250, 64, 32, 16, "os"): 1759, (17, 250, 64, 32, 16, "ws"): 3039, (17, 250, 64, 32, 16, "is"): 1311,
}


def test_issue_command_line(capsys):
    status = cli.main(["--arch", "systolic", "--workload", "gemm:M=256,N=128,K=256", "--workload",
                       "gemm:M=17,N=250,K=64", "--set", "rows=32,16", "--set", "cols=32,64", "--set",
                       "dataflow=os,ws,is", "--format", "json"])
    out, _ = capsys.readouterr()
    assert status == 0
    recs = json.loads(out)
    assert len(recs) == 2 * 2 * 2 * 3
    for r in recs:
        for key in ("rows", "cols", "dataflow", "M", "N", "K", "cycles", "energy_pj", "utilization"):
            assert key in r
        key = (r["M"], r["N"], r["K"], r["rows"], r["cols"], r["dataflow"])
        if key in SCALESIM:
            assert r["cycles"] == SCALESIM[key]
        assert r["utilization"]["array"] == pytest.approx(r["M"] * r["N"] * r["K"] / (r["rows"] * r["cols"] * r["cycles"]))


def test_bandwidth_sweep_from_the_command_line(capsys):
    status = cli.main(["--arch", "systolic", "--workload", "gemm:M=256,N=128,K=256", "--set", "bandwidth=calc,dram",
                       "--set", "dram_gbps=0.5,1000", "--format", "json"])
    recs = {(r["bandwidth"], r["dram_gbps"] if "dram_gbps" in r else None): r for r in json.loads(capsys.readouterr()[0])}
    assert status == 0 and len(recs) == 4
    calc = [r["cycles"] for (bw, _), r in recs.items() if bw == "calc"]
    assert calc == [10175, 10175]  # bandwidth plays no part in CALC mode
    starved = recs[("dram", 0.5)]
    assert starved["cycles"] > 10175


def test_defaults_and_mapped_gemm_on_a_non_systolic_spec():
    rec = gemm.evaluate("systolic", dict(gemm.DEFAULTS[0]), "analytical")
    assert rec["cycles"] == 10175 and rec["dataflow"] == "os"  # the preset's 32 x 32 os array
    rec = gemm.evaluate("flat-edge", {"M": "64", "N": "64", "K": "64"}, "analytical")
    assert rec["dataflow"] == "mapped" and rec["mappings_evaluated"] > 0
    assert rec["cycles"] >= 64 * 64 * 64 // (32 * 32)


@pytest.mark.parametrize("params, message", [
    ({"M": "0", "N": "1", "K": "1"}, "gemm: 'M' must be a positive integer, not '0'"),
    ({"M": "x", "N": "1", "K": "1"}, "gemm: 'M' must be a positive integer, not 'x'"),
    ({"M": "1", "N": "1", "K": "1", "dataflow": "rs"},
     "arch/presets/systolic.yaml: compute.array.dataflow: must be one of os, ws, is, not 'rs'"),
    ({"M": "1", "N": "1", "K": "1", "colour": "red"}, "gemm: unknown parameter 'colour'"),
    ({"M": "1", "N": "1", "K": "1", "bandwidth": "usr"}, "gemm: 'bandwidth' must be calc or dram, not 'usr'"),
])
def test_bad_values_are_one_line(params, message):
    from arch.errors import AccelError

    with pytest.raises(AccelError) as err:
        gemm.evaluate("systolic", params, "analytical")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_user_yaml_file_works_like_a_preset(tmp_path):
    from arch.registry import PRESET_DIR

    text = (PRESET_DIR / "systolic.yaml").read_text().replace("shape: [32, 32]", "shape: [16, 64]")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    rec = gemm.evaluate(str(path), {"M": "17", "N": "250", "K": "64", "dataflow": "ws"}, "analytical")
    assert (rec["rows"], rec["cols"], rec["cycles"]) == (16, 64, 1775)  # SCALE-Sim 3.0.0, ws 16 x 64
