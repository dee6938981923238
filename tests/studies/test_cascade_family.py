"""``explore --workload cascade:...``: library and file cascades, --mapping by file or shipped
name, the record's mapping reproducing its cycles, bad input as one line and exit 2, and the
layers beyond attention costed on both engines."""

import json

import pytest
import yaml

from studies.cli import main


def _run(capsys, *argv):
    status = main([*argv, "--format", "json", "--quiet"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if status == 0 else None), err


@pytest.fixture
def layer_spec(tmp_path):
    """fusemax with the unary operators of item 5 on the 1D array (cost: an exp's, assumed)."""
    from importlib import resources

    data = yaml.safe_load((resources.files("arch") / "presets" / "fusemax.yaml").read_text())
    exp = data["compute"]["pe1d"]["operators"]["exp"]
    for op in ("sqrt", "rsqrt", "tanh", "erf"):
        data["compute"]["pe1d"]["operators"][op] = dict(exp)
    path = tmp_path / "layers.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_shipped_mapping_and_record_round_trip(capsys, tmp_path):
    status, recs, _ = _run(capsys, "--arch", "fusemax", "--workload",
                           "cascade:name=attention-1pass,model=bert,seq_len=1K", "--mapping", "fusemax")
    assert status == 0
    rec = recs[0]
    assert rec["cycles"] > 0 and rec["energy_pj"] > 0 and rec["dram_bytes"] > 0
    assert set(rec["utilization"]) >= {"pe2d", "pe1d", "dram"}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(rec["mapping"]))
    status, again, _ = _run(capsys, "--arch", "fusemax", "--workload",
                            "cascade:name=attention-1pass,model=bert,seq_len=1K", "--mapping", str(path))
    assert status == 0 and again[0]["cycles"] == rec["cycles"]


def test_file_cascade_searched_and_reproduced(capsys, tmp_path):
    text = tmp_path / "scan.einsum"
    text.write_text("rank T, D\niterate t until t >= T\ninit H[0,d] = 0\nH[t+1,d] = A[t,d] * H[t,d] + B[t,d] * X[t]\n")
    status, recs, _ = _run(capsys, "--arch", "fusemax", "--workload", f"cascade:file={text},T=4096,D=16")
    assert status == 0
    rec = recs[0]
    assert rec["cycles"] >= 4096 * 2          # mul then add per step, latency 1 each
    assert rec["mappings_evaluated"] > 0
    path = tmp_path / "found.yaml"
    path.write_text(yaml.safe_dump(rec["mapping"]))
    status, again, _ = _run(capsys, "--arch", "fusemax", "--workload", f"cascade:file={text},T=4096,D=16",
                            "--mapping", str(path))
    assert again[0]["cycles"] == rec["cycles"]


@pytest.mark.parametrize("argv,message", [
    (["--workload", "gemm:M=8,N=8,K=8", "--mapping", "fusemax"],
     "--mapping fusemax: only cascade: and spgemm: workloads take a mapping, not gemm:"),
    (["--workload", "cascade:name=nope,M=8"], "cascade: 'name' must be one of"),
    (["--workload", "cascade:name=gemm,M=8,N=8,K=8", "--mapping", "missing.yaml"],
     "--mapping missing.yaml: no such file, and not a shipped mapping"),
    (["--workload", "cascade:name=gemm,M=8,N=8"], "rank 'K' has no size"),
    (["--workload", "cascade:name=gemm,M=8,N=8,K=8,lr=1"], "cascade: unknown parameter 'lr'"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    status, _, err = _run(capsys, "--arch", "fusemax", *argv)
    assert status == 2
    assert err.startswith("explore: error: ") and message in err and err.count("\n") == 1


def test_bad_mapping_file_is_one_line(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("einsums:\n  Z: {unit: pe2d, spatial: [[M, 999]]}\n")
    status, _, err = _run(capsys, "--arch", "fusemax", "--workload", "cascade:name=gemm,M=8,N=8,K=8",
                          "--mapping", str(path))
    assert status == 2 and err.count("\n") == 1
    assert err.endswith(": einsum 'Z': spatial factor of rank 'M' on unit 'pe2d' dimension 0 must be between 1 "
                        "and 256, not 999\n")


@pytest.mark.parametrize("workload", [
    "cascade:name=layernorm,E=768,P=512",
    "cascade:name=gelu-mlp,D=768,S=3072,P=512",
    "cascade:name=gqa,G=2,R=4,E=64,F=64,M=1024,P=1024",
    "cascade:name=mamba-scan,T=1024,D=256,N=16",
    "cascade:name=conv-relu-conv,K=64,C=64,J=64,H=130,P=128,R=3,S=3",
])
def test_layers_beyond_attention_cost_on_both_engines(capsys, layer_spec, workload):
    recs = {}
    for engine in ("analytical", "des"):
        status, out, err = _run(capsys, "--arch", layer_spec, "--workload", workload, "--engine", engine)
        assert status == 0, err
        recs[engine] = out[0]
    a, d = recs["analytical"], recs["des"]
    assert a["energy_pj"] == pytest.approx(d["energy_pj"])    # same task graph, same counts
    assert d["cycles"] >= a["cycles"] > 0                      # the DES adds what the bound omits


def test_shipped_fusemax_file_follows_pe_dim_from_the_command_line(capsys):
    # fusemax.yaml's sizes follow the spec (pe2d.rows, fit(pe2d.cols)) and M0 is the 2D
    # array's rows: at pe_dim 128 the 1D array, FuseMax's bottleneck, is busy for what the
    # binding gives it per (m1, query) pair of 128-key partitions, 1 (RM) + 7 (PRM, sub and the
    # 6-MAC exp) + 1 (SPD) + 1 (RD) + F (SPNV) + F (RNV) cycles on 128 PEs, plus F (AV) per
    # query, over 64 x 12 heads (docs/sources.md#fusemax-arch)
    import json

    from studies import cli

    assert cli.main(["--arch", "fusemax", "--workload", "cascade:name=attention-1pass,model=bert,seq_len=4K",
                     "--mapping", "fusemax", "--set", "pe_dim=128", "--format", "json", "--quiet"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["ranks"]["M0"] == 128 and rec["pe_dim"] == 128     # a number, as the attention family records it
    L, F, pd = 4096, 64, 128
    one_d = 64 * 12 * (L // pd) * ((L // pd) * (2 * F + 10) + F)
    assert rec["utilization"]["pe1d"] * rec["cycles"] == pytest.approx(one_d, rel=1e-9)
    assert one_d <= rec["cycles"] <= one_d * 1.01
