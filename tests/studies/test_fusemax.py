"""The FuseMax study and the attention/end2end families on the explore command line."""

import csv
import json
from pathlib import Path

import pytest

from studies import cli, fusemax
from studies.families import attention as fam


def test_study_json_records(capsys):
    assert fusemax.main(["--models", "bert,xlm", "--seq-lens", "1K", "--format", "json"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert len(recs) == 5 * 2 * 1 * 2            # configs x models x lengths x scopes
    for r in recs:
        for k in ("config", "model", "seq_len", "scope", "seconds", "cycles", "energy_pj",
                  "dram_bytes", "utilization"):
            assert k in r, k
        assert set(r["utilization"]) == {"2d", "1d"}
        assert r["seconds"] == pytest.approx(r["cycles"] / 940e6)
    keys = {(r["config"], r["model"], r["seq_len"], r["scope"]) for r in recs}
    assert ("fusemax", "xlm", "1K", "end2end") in keys and ("unfused", "bert", "1K", "attention") in keys


def test_study_table_means(capsys):
    assert fusemax.main(["--models", "bert,t5", "--seq-lens", "1K,4K", "--configs", "flat,fusemax",
                         "--scopes", "attention"]) == 0
    out = capsys.readouterr().out
    assert "attention speedup vs flat (mean of 4)" in out
    assert "fusemax 2D utilization (1K)" in out


def test_summary_means_are_means_of_ratios():
    recs = fusemax.run(fusemax.points(("bert",), ("1K", "4K"), ("flat", "fusemax"), ("attention",)))
    by = {(r["config"], r["seq_len"]): r for r in recs}
    want = sum(by[("flat", L)]["seconds"] / by[("fusemax", L)]["seconds"] for L in ("1K", "4K")) / 2
    rows = {name: ours for name, ours, _, _ in fusemax.summary(recs)}
    assert rows["attention speedup vs flat (mean of 2)"] == pytest.approx(want)
    # FLAT at 4 one-cycle passes per score vs FuseMax's (2F + 10 + F/M1) 1D cycles per tile:
    # 1024/154 at 1K and 1024/142 at 4K (docs/sources.md#fusemax-arch hardware figures)
    assert want == pytest.approx((1024 / 154 + 1024 / 142) / 2, rel=0.02)


def run_cli(argv, capsys):
    code = cli.main(argv + ["--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_explore_attention_record(capsys):
    code, out, err = run_cli(["--arch", "fusemax", "--workload", "attention:model=bert,seq_len=4K",
                              "--format", "json"], capsys)
    assert code == 0, err
    (rec,) = json.loads(out)
    assert rec["model"] == "bert" and rec["seq_len"] == "4K" and rec["scope"] == "attention"
    assert rec["utilization"]["2d"] == pytest.approx(0.96, abs=0.01)   # published ~0.96 at 4K
    assert rec["simulated_steps"] == 0 and rec["extrapolated_steps"] == 0


def test_explore_end2end_des(capsys):
    code, out, err = run_cli(["--arch", "fusemax", "--workload", "end2end:model=t5,seq_len=1K",
                              "--engine", "des", "--set", "config=flat,fusemax", "--format", "json"], capsys)
    assert code == 0, err
    recs = json.loads(out)
    assert [r["config"] for r in recs] == ["flat", "fusemax"]
    assert all(r["scope"] == "end2end" and r["simulated_steps"] > 0 for r in recs)
    assert recs[0]["hardware"] == "flat" and recs[1]["hardware"] == "fusemax"


def test_explore_arch_sweep(capsys):
    code, out, err = run_cli(["--arch", "fusemax", "--workload", "attention:model=bert,seq_len=16K",
                              "--set", "pe_dim=128,256", "--set", "dram_gbps=100,400",
                              "--format", "json"], capsys)
    assert code == 0, err
    recs = json.loads(out)
    assert sorted((r["pe_dim"], r["dram_gbps"]) for r in recs) == [(128, 100), (128, 400), (256, 100), (256, 400)]
    by = {(r["pe_dim"], r["dram_gbps"]): r["seconds"] for r in recs}
    assert by[(128, 400)] > 3.5 * by[(256, 400)]     # a quarter of the PEs


@pytest.mark.parametrize("workload,message", [
    ("attention:model=gpt", "'model' must be one of bert, trxl, t5, xlm, not 'gpt'"),
    ("attention:seq_len=1G", "'seq_len' must be a positive integer or 1K..1M, not '1G'"),
    ("attention:config=flash", "'config' must be one of unfused, flat, cascade, architecture, fusemax, not 'flash'"),
    ("attention:heads=3", "unknown parameter 'heads'"),
])
def test_explore_bad_workload(capsys, workload, message):
    code, out, err = run_cli(["--arch", "fusemax", "--workload", workload], capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_explore_bad_pe_dim(capsys):
    code, out, err = run_cli(["--arch", "fusemax", "--workload", "attention", "--set", "pe_dim=0"], capsys)
    assert code == 2
    assert "compute.pe2d.shape[0]: must be a positive integer, not 0" in err


def test_explore_buffer_smaller_than_a_tile(capsys):
    code, out, err = run_cli(["--arch", "fusemax", "--workload", "attention", "--set", "glb_mb=0.01"], capsys)
    assert code == 2
    # 0.01 MiB = 10485.76 bytes, rounded
    assert err.startswith("explore: error: ") and "tiles at level 'glb' need" in err and err.endswith(
        "bytes at once but it holds 10486\n")


def test_family_defaults_are_valid_points():
    assert fam.DEFAULTS and all(set(p) <= fam.WORKLOAD_KEYS for p in fam.DEFAULTS)
    assert {p["config"] for p in fam.DEFAULTS} == {"flat", "fusemax"}


def test_study_des_csv(capsys):
    assert fusemax.main(["--engine", "des", "--models", "t5", "--seq-lens", "1K", "--configs",
                         "flat,fusemax", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 2 * 2                 # header + configs x scopes
    header = lines[0].split(",")
    assert "utilization.2d" in header and "simulated_steps" in header


def test_hardware_follows_the_config_on_ladder_presets():
    assert fam.hardware_for("fusemax", "flat") == "flat"
    assert fam.hardware_for("flat", "fusemax") == "fusemax"
    assert fam.hardware_for("my/spec.yaml", "flat") == "my/spec.yaml"


def test_energy_ratio_at_a_published_point():
    # FuseMax artifact, outputs/pregenerated/results: attn-binding.csv (FuseMax) over
    # attn-flat.csv, BERT at 1K tokens: 1950645149855.27 / 2485343541836.59 pJ = 0.785
    recs = fusemax.run(fusemax.points(("bert",), ("1K",), ("flat", "fusemax"), ("attention",)))
    by = {r["config"]: r["energy_pj"] for r in recs}
    assert by["fusemax"] / by["flat"] == pytest.approx(1950645149855.27 / 2485343541836.59, abs=0.03)


def test_dram_staging_changes_energy_not_cycles_from_the_command_line(capsys):
    """``dram_staging=no`` (the artifact's accounting) drops the buffer energy of tensors moved
    to and from DRAM: same cycles and DRAM bytes, less energy, less global-buffer energy."""
    import json

    from studies import cli

    base = ["--arch", "fusemax", "--workload", "attention:model=bert,seq_len=4K,config=unfused",
            "--set", "dram_staging=yes,no", "--format", "json", "--quiet"]
    assert cli.main(base) == 0
    yes, no = json.loads(capsys.readouterr().out)
    assert yes["cycles"] == no["cycles"] and yes["dram_bytes"] == no["dram_bytes"]
    assert no["energy_breakdown"]["glb"] < yes["energy_breakdown"]["glb"]
    assert no["energy_pj"] < yes["energy_pj"]


def test_dram_staging_bad_value_is_one_line(capsys):
    from studies import cli

    assert cli.main(["--arch", "fusemax", "--workload", "attention:dram_staging=maybe", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == "explore: error: attention:dram_staging=maybe: 'dram_staging' must be yes or no, not 'maybe'\n"


def test_study_bad_list_is_one_line_status_2(capsys):
    from studies import fusemax

    with pytest.raises(SystemExit) as exc:
        fusemax.main(["--models", "gpt"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == ("python -m studies.fusemax: error: 'models' must be a comma list of "
                                       "bert, trxl, t5, xlm, not 'gpt'\n")


def test_every_rung_runs_its_mapping_files_from_the_command_line(capsys):
    # config=flat runs mappings/shipped/flat.yaml (score blocks on chip) at 4K and
    # flat-spill.yaml (scores through DRAM) at 1M, whichever is faster (FLAT's choice); each
    # record has the cycles and energy of its file run as a cascade workload (the cascade
    # family sets the ranks from the model on its own), with dram_staging=no (the files'
    # keep/bypass alone)
    code, out, err = run_cli(["--arch", "flat", "--workload", "attention:model=bert,config=flat,dram_staging=no",
                              "--set", "seq_len=4K,1M", "--format", "json"], capsys)
    assert code == 0, err
    recs = json.loads(out)
    assert [r["mapping_file"] for r in recs] == ["flat", "flat-spill"]
    for r in recs:
        code, out, err = run_cli(["--arch", "flat", "--workload", f"cascade:name=attention-3pass,model=bert,"
                                  f"seq_len={r['seq_len']}", "--mapping", r["mapping_file"], "--format", "json"], capsys)
        assert code == 0, err
        (ref,) = json.loads(out)
        assert (r["cycles"], r["energy_pj"]) == (ref["cycles"], pytest.approx(ref["energy_pj"], rel=1e-12))
    for config in fam.CONFIGS:
        code, out, err = run_cli(["--arch", "fusemax", "--workload", f"attention:model=bert,seq_len=4K,config={config}",
                                  "--format", "json"], capsys)
        assert code == 0, err
        assert json.loads(out)[0]["mapping_file"] in fam.LADDER_FILES[config]


ARTIFACT = Path(__file__).resolve().parents[1] / "data" / "fusemax_artifact"


@pytest.mark.parametrize("table,preset", [("end2end-flat.csv", "flat"), ("end2end-proposal.csv", "fusemax")])
def test_linear_layers_against_the_artifact(table, preset):
    # The FuseMax artifact's per-point results for the linear layers of an encoder layer
    # (FPSG-UIUC/micro24-fusemax-artifact at f543beb, outputs/pregenerated/results;
    # tests/data/fusemax_artifact/SOURCES.md): latency in seconds at 940 MHz, energy in pJ,
    # with its accounting (streamed tensors bypass the buffer: dram_staging=no). Every one of
    # the 24 points of each table: latency within 5%, energy within 10% (linear.yaml selects
    # the artifact's register-file accounting, one PE instance: docs/mapping.md).
    from arch.registry import load_arch
    from mappings.workloads import workload
    from sim.analytical import run

    spec = load_arch(preset)
    rows = list(csv.DictReader((ARTIFACT / table).open()))
    assert len(rows) == 24
    for row in rows:
        before, after = workload(row["model"].lower(), row["seq_len"], 64).linear_layers()
        reports = [run(g) for g in fam.linear_graphs(spec, before + after)]
        seconds = sum(r.seconds for r in reports)
        energy = sum(r.energy_pj for r in reports)
        assert seconds == pytest.approx(float(row["latency"]), rel=0.05), row
        assert energy == pytest.approx(float(row["energy"]), rel=0.10), row
