"""The spgemm workload family through ``explore``: records, A*B from two files, bad input."""

import json
from pathlib import Path

import pytest

from studies.cli import main
from studies.families import spgemm as family

DATA = Path(__file__).resolve().parents[1] / "data" / "matrices"
KARATE = str(DATA / "karate.mtx")


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_contract_command_gives_records(capsys):
    rc, out, err = run_cli(capsys, "--arch", "piuma", "--workload", f"spgemm:matrix={KARATE}",
                           "--workload", "spgemm:rmat=6,edge_factor=4,seed=1",
                           "--set", "kernel=inner,outer,rowwise-dram,smash-v1,smash-v2,smash-v3", "--format", "json")
    assert rc == 0, err
    recs = json.loads(out)
    assert len(recs) == 12
    for r in recs:
        for key in ("kernel", "matrix", "flops", "nnz_z", "cycles", "seconds", "energy_pj", "dram_bytes", "hash_probes", "atomics"):
            assert key in r
    karate = [r for r in recs if r["matrix"] == "karate.mtx"]
    # SOURCES.md: karate A.A has 1,212 flops and 698 entries
    assert {(r["flops"], r["nnz_z"]) for r in karate} == {(1212, 698)}


def test_two_files_and_machine_overrides():
    rec = family.evaluate("piuma", {"a": KARATE, "b": KARATE, "kernel": "smash-v1", "cores": "2", "dram_gbps": "50"}, "des")
    assert rec["matrix"] == "karate.mtx*karate.mtx" and rec["flops"] == 1212
    rec8 = family.evaluate("piuma", {"matrix": KARATE, "kernel": "smash-v1"}, "des")
    assert rec8["cycles"] != rec["cycles"]


def test_uniform_generator():
    rec = family.evaluate("piuma", {"uniform": "64", "nnz": "300", "seed": "2", "kernel": "outer"}, "analytical")
    assert rec["m"] == rec["n"] == 64 and rec["engine"] == "analytical"


@pytest.mark.parametrize("engine", ["analytical", "des"])
def test_record_names_the_engine_that_ran(capsys, engine):
    rc, out, err = run_cli(capsys, "--arch", "piuma", "--workload", f"spgemm:matrix={KARATE},kernel=smash-v2",
                           "--engine", engine, "--format", "json")
    assert rc == 0, err
    (rec,) = json.loads(out)
    assert rec["engine"] == engine
    # only the event loop simulates task by task
    assert rec["simulated_steps"] == (rec["tasks"] if engine == "des" else 0)


def test_trace_needs_the_event_engine(tmp_path):
    from arch.errors import WorkloadError
    with pytest.raises(WorkloadError, match=r"^'trace' needs engine des: the analytical bound has no timeline$"):
        family.evaluate("piuma", {"matrix": KARATE, "kernel": "inner"}, "analytical", trace=str(tmp_path / "t.json"))


@pytest.mark.parametrize("workload,message", [
    ("spgemm:matrix=/no/such.mtx", "matrix file '/no/such.mtx' does not exist"),
    ("spgemm:rmat=27", "spgemm: 'rmat' must be at most 26, not '27'"),
    ("spgemm:rmat=8,edge_factor=0", "spgemm: 'edge_factor' must be a positive integer, not '0'"),
    ("spgemm:rmat=8,kernel=gustavson", "spgemm: 'kernel' must be one of inner, outer, rowwise-dram, smash-v1, smash-v2, smash-v3, not 'gustavson' (or give mapping=FILE.yaml)"),
    ("spgemm:rmat=8,kernel=inner,mapping=m.yaml", "spgemm: give kernel=NAME or mapping=FILE.yaml, not both"),
    ("spgemm:rmat=8,mapping=nope.yaml", "--mapping nope.yaml: no such file, and not a shipped mapping"),
    ("spgemm:rmat=8,colour=red", "spgemm: unknown parameter 'colour'"),
    ("spgemm:kernel=outer", "spgemm: give exactly one operand source"),
    (f"spgemm:a={KARATE},b={DATA / 'west0067.mtx'}", "'b' must have as many rows as 'a' has columns (34), not 67"),
])
def test_bad_input_one_line_exit_2(capsys, workload, message):
    rc, out, err = run_cli(capsys, "--arch", "piuma", "--workload", workload)
    assert rc == 2
    assert err.count("\n") == 1 and message in err


def test_malformed_file_exit_2(capsys, tmp_path):
    p = tmp_path / "bad.mtx"
    p.write_text("%%MatrixMarket matrix coordinate real general\n2 2 1\n1 x 1.0\n")
    rc, out, err = run_cli(capsys, "--arch", "piuma", "--workload", f"spgemm:matrix={p}")
    assert rc == 2 and err.startswith(f"explore: error: spgemm:matrix={p}: {p}: malformed Matrix Market file (") and err.count("\n") == 1


def test_non_piuma_arch_refused():
    from arch.errors import WorkloadError
    with pytest.raises(WorkloadError, match="'arch' must be a piuma spec"):
        family.evaluate("systolic", {"rmat": "4", "kernel": "inner"}, "des")


def test_trace_has_one_event_per_task_and_resource_tracks(tmp_path):
    path = tmp_path / "t.json"
    rec = family.evaluate("piuma", {"matrix": KARATE, "kernel": "smash-v1"}, "des", trace=str(path))
    doc = json.loads(path.read_text())
    tasks = [e for e in doc["traceEvents"] if e.get("cat") == "task"]
    assert len(tasks) == rec["tasks"] and not doc["otherData"]["truncated"]
    # every event lies within the run and on one of the 8 cores' 66 threads
    assert max(e["args"]["end_cycle"] for e in tasks) <= rec["cycles"]
    assert {e["pid"] for e in tasks} <= set(range(1, 9)) and max(e["tid"] for e in tasks) <= 66
    # every hardware thread has a named track: 4 MTPs x 16 threads, then 2 STPs, on each core;
    # then the resource instances: 6 pipelines per core, a scratchpad, atomic unit and network
    # link per core, one DRAM channel
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert len(names) == 8 * 66 + 48 + 3 * 8 + 1
    assert names[(1, 1)] == "mtp 0 thread 0" and names[(8, 64)] == "mtp 3 thread 15" and names[(3, 66)] == "stp 1"
    assert names[(10, 8)] == "scratchpad 7" and names[(13, 1)] == "dram 0"
    # ts and dur are microseconds of simulated time at 1 GHz; one task at a time per thread
    for e in tasks:
        assert e["ts"] == pytest.approx(e["args"]["start_cycle"] / 1000)
        assert e["dur"] == pytest.approx((e["args"]["end_cycle"] - e["args"]["start_cycle"]) / 1000)
    for track in {(e["pid"], e["tid"]) for e in tasks}:
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in tasks if (e["pid"], e["tid"]) == track)
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:]))
    # bookings: the DRAM channel serves one at a time, and carries every DRAM byte of the run
    dram = sorted((e["args"]["start_cycle"], e["args"]["end_cycle"]) for e in doc["traceEvents"]
                  if e.get("cat") == "booking" and e["pid"] == 13)
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(dram, dram[1:]))
    assert sum(e - s for s, e in dram) * 204.8 == pytest.approx(rec["dram_bytes"])


def test_a_mapping_file_runs_as_its_own_kernel(tmp_path, capsys):
    # the shipped smash-v2 mapping written to a file of another name: the same dataflow, merge
    # and distribution, so the same cycles; the record names the file's kernel
    import yaml
    from mappings.cascade_mapping import load
    f = tmp_path / "my-tokens.yaml"
    f.write_text(yaml.safe_dump(load("smash-v2").to_dict()))
    shipped = family.evaluate("piuma", {"matrix": KARATE, "kernel": "smash-v2"}, "des")
    mine = family.evaluate("piuma", {"matrix": KARATE, "mapping": str(f)}, "des")
    assert mine["kernel"] == "my-tokens" and mine["cycles"] == shipped["cycles"]
    assert mine["energy_pj"] == shipped["energy_pj"]
    rc, out, err = run_cli(capsys, "--arch", "piuma", "--workload", f"spgemm:matrix={KARATE}", "--mapping", str(f),
                           "--engine", "des", "--format", "json")
    assert rc == 0 and json.loads(out)[0]["cycles"] == shipped["cycles"]
