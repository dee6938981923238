"""The generic cascade lowering on both engines: closed-form GEMM counts, a recurrence that
serialises (T steps cost at least T times the chain latency), pipeline stages that overlap
two arrays, and energy equal on both engines by construction."""

import math

import pytest

from arch.registry import load_arch
from mappings import library, parse
from mappings.cascade_mapper import search
from mappings.cascade_mapping import from_dict, load
from mappings.library_layers import layer
from sim.analytical import run as analytical
from sim.cascade import cost_group, lower
from sim.des import run as des

SPEC = load_arch("fusemax", {})


def test_gemm_counts_are_the_closed_form():
    M = N = K = 512
    m = from_dict({"einsums": {"Z": {"unit": "pe2d", "spatial": [["M", 256], ["N", 256]],
                                     "levels": {"glb": {"tiles": {"M": 256, "N": 256}}}, "loop_order": ["M", "N", "K"]}}})
    g = lower(library.gemm(), {"M": M, "N": N, "K": K}, m, SPEC)
    r = analytical(g)
    assert r.actions[("pe2d", "mac")] == M * N * K
    # Loops M (outer), N: A[m,k] changes with M only (loaded 2 times, 256*512 words each);
    # B[k,n] changes with N (loaded 4 times); Z stored once per tile (4 tiles of 256*256).
    words = 2 * 256 * 512 + 4 * 512 * 256 + 4 * 256 * 256
    assert r.dram_bytes == words * 2
    # Each tile: 256x256 PEs, K = 512 MACs in sequence: 512 cycles of compute, 4 tiles.
    assert r.cycles >= 4 * 512
    rd = des(g)
    assert rd.energy_pj == pytest.approx(r.energy_pj)
    assert rd.cycles >= r.cycles


@pytest.mark.parametrize("run", [analytical, des])
def test_scan_costs_at_least_t_times_its_chain_latency(run):
    # H[t+1,d] = A[t,d] * H[t,d] + B[t,d] * X[t]: one step is a mul then an add, each of
    # latency 1 on the 1D array (arch/presets/fusemax.yaml), so T steps take >= 2 T cycles
    # however many PEs there are.
    c = parse("rank T, D\niterate t until t >= T\ninit H[0,d] = 0\nH[t+1,d] = A[t,d] * H[t,d] + B[t,d] * X[t]")
    T = 4096
    ops = SPEC.compute["pe1d"].operators
    chain = ops["mul"].latency_cycles + ops["add"].latency_cycles
    for mapping in ({"H": {"unit": "pe1d", "spatial": [["D", 1]]}},
                    {"H": {"unit": "pe1d", "spatial": [["D", 1]], "levels": {"glb": {"tiles": {"T": 1}}}}}):
        g = lower(c, {"T": T, "D": 1}, from_dict({"einsums": mapping}), SPEC)
        compute = [t for ph in g.phases for t in ph.tasks if t.name == "H"]
        assert run(g).cycles >= T * chain
        assert sum(t.cycles for t in compute) > 0


def test_scan_tile_loop_and_inner_serial_agree_on_the_bound():
    c = layer("mamba-scan")
    shape = {"T": 1024, "D": 256, "N": 1}
    m = from_dict({"einsums": {n: {"unit": "pe1d", "spatial": [["D", 256]]} for n in ("AB", "BX", "H", "Y")}})
    g = lower(c, shape, m, SPEC)
    h = next(t for ph in g.phases for t in ph.tasks if t.name == "H")
    ops = SPEC.compute["pe1d"].operators
    assert h.cycles >= 1024 * (ops["mul"].latency_cycles + ops["add"].latency_cycles)


def test_pipeline_stages_overlap_the_two_arrays():
    # B on the 2D array, C on the 1D array, 64 tiles: without stages each tile waits for the
    # other array; with C one stage behind, the two arrays overlap.
    c = parse("rank M, N\nB[m,n] = A[m,n] * A[m,n]\nC[m,n] = exp(B[m,n])")
    base = {"einsums": {"B": {"unit": "pe2d", "spatial": [["N", 256]]}, "C": {"unit": "pe1d", "spatial": [["N", 256]]}}}
    plain = dict(base, fusion=[{"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 1]], "slots": 2}])
    staged = dict(base, fusion=[{"einsums": ["B", "C"], "buffer": "glb", "loops": [["M", 1]], "slots": 2, "stages": {"C": 1}}])
    shape = {"M": 64, "N": 256}
    a, b = (lower(c, shape, from_dict(d), SPEC) for d in (plain, staged))
    for run in (analytical, des):
        assert run(b).cycles < run(a).cycles
        assert run(b).energy_pj == pytest.approx(run(a).energy_pj)
    # C at stage 1 and its write-back STORE_TRAIL = 2 iterations later (stage 3): three fill
    # and three drain steps.
    assert [ph.name.split(".")[-1] for ph in b.phases] == ["prologue0", "prologue1", "prologue2", "steady",
                                                           "epilogue0", "epilogue1", "epilogue2"]


def test_fusemax_mapping_meets_the_ops_of_the_cascade():
    c = library.attention(1, batch=True)
    shape = {"B": 1, "H": 2, "M": 2048, "P": 2048, "E": 64, "F": 64, "M0": 256}
    g = lower(c, shape, load("fusemax"), SPEC)
    r = analytical(g)
    counts = c.op_counts(shape)
    assert r.actions[("pe2d", "mac")] == counts["mac"]
    assert r.actions[("pe1d", "div")] == counts["div"]
    # The 2D array does at least E + F MAC steps per 256x256 tile of scores.
    assert r.cycles >= 2 * (2048 // 256) ** 2 * (64 + 64)
    assert des(g).energy_pj == pytest.approx(r.energy_pj)


def test_mapper_result_is_what_the_lowering_costs():
    shape = {"M": 512, "N": 512, "K": 512}
    found = search(library.gemm(), shape, SPEC, cost_group)
    assert analytical(lower(library.gemm(), shape, found.mapping, SPEC)).cycles == found.cycles
    assert found.evaluated > 0
    # No mapping is better than the compute bound: M*N*K MACs over 65536 PEs.
    assert found.cycles >= math.ceil(512 ** 3 / 65536)


def test_mapper_never_unrolls_the_iterative_rank():
    found = search(layer("mamba-scan"), {"T": 256, "D": 16, "N": 4}, SPEC, cost_group)
    assert all(r != "T" for p in found.mapping.placements for r, _ in p.spatial)


def test_fused_search_finds_fusemax_without_the_shipped_files(monkeypatch):
    # The shipped FuseMax mapping's cost is taken first; then the mapping files are put out of
    # reach and the mapper, given only the cascade and the preset, must come within 5%.
    from mappings import cascade_mapping

    c = library.attention(1, batch=True)
    shape = {"B": 64, "H": 12, "M": 4096, "P": 4096, "E": 64, "F": 64, "M0": 256}
    shipped = analytical(lower(c, shape, load("fusemax"), SPEC)).cycles

    def refuse(*args, **kwargs):
        raise AssertionError("the mapper read a mapping file")

    monkeypatch.setattr(cascade_mapping, "load", refuse)
    monkeypatch.setattr(cascade_mapping, "loads", refuse)
    monkeypatch.setattr(cascade_mapping, "shipped_names", refuse)
    found = search(c, shape, SPEC, cost_group)
    assert found.cycles <= 1.05 * shipped
    assert found.seconds < 10
    assert analytical(lower(c, shape, found.mapping, SPEC)).cycles == found.cycles


FLAT = load_arch("flat", {})


@pytest.mark.parametrize("op_issue,spec,per_point", [
    # FLAT's 1D PEs: sub on the adder, exp on its dedicated 1-cycle unit
    ("serial", FLAT, 1 + 1),
    ("functional_units", FLAT, max(1, 1)),
    # FuseMax's PEs evaluate exp as 6 MACs on the multiply-add datapath, as the subtract:
    # the two ops share one functional unit and serialise under either convention
    ("serial", SPEC, 1 + 6),
    ("functional_units", SPEC, 1 + 6),
])
def test_op_issue_convention(op_issue, spec, per_point):
    c = parse("rank M, N\nB[m,n] = exp(A[m,n] - C[m,n])")
    m = from_dict({"op_issue": op_issue, "einsums": {"B": {"unit": "pe1d", "spatial": [["N", 256]]}}})
    g = lower(c, {"M": 1024, "N": 256}, m, spec)
    (b,) = [t for ph in g.phases for t in ph.tasks if t.name == "B"]
    assert b.cycles == 1024 * per_point          # 1024 x 256 points on 256 PEs


def test_reductions_down_the_rows_drain_into_the_1d_array():
    # FuseMax's mapping spreads M0 over the 2D array's 256 rows: LM, SLD and SLNV reduce over
    # M0, so their results leave the array 256 cycles after the last issue; BQK reduces over
    # E (in time) and SLN reduces nothing: no drain
    c = library.attention(passes=1, deferred_division=True, batch=True)
    shape = {"M": 1024, "P": 1024, "E": 64, "F": 64, "B": 1, "H": 1, "M0": 256}
    g = lower(c, shape, load("fusemax"), SPEC)
    steady = next(ph for ph in g.phases if ph.name.endswith("steady"))
    lat = {t.name: t.latency for t in steady.tasks}
    assert lat["LM"] >= 256 and lat["SLD"] >= 256 and lat["SLNV"] >= 256
    assert lat["BQK"] < 256 and lat["SLN"] < 256


def test_units_issue_in_the_order_the_group_lists():
    c = library.attention(passes=1, deferred_division=True, batch=True)
    # two heads: AV, which runs at a head's last key partition, has an instance in the steady
    # phase (with one head its only instance is in the epilogue)
    shape = {"M": 1024, "P": 1024, "E": 64, "F": 64, "B": 1, "H": 2, "M0": 256}
    m = load("fusemax")
    listed = list(m.fusion[0].einsums)
    steady = next(ph for ph in lower(c, shape, m, SPEC).phases if ph.name.endswith("steady"))
    on_1d = [t.name for t in steady.tasks if t.unit == "pe1d"]
    assert on_1d == [e for e in listed if m.of(e).unit == "pe1d"]
    assert listed != [e.name for e in c.einsums]     # the order is the mapping's, not the cascade's


@pytest.mark.parametrize("config,table,rel,points", [
    ("unfused", "attn-unfused.csv", 2e-3, (("BERT", "4K"), ("XLM", "1K"))),
    # FLAT: its block as large as fits (fit(1)) on chip; at 1M its scores through DRAM in the
    # artifact's blocks of 1024 queries (flat-spill.yaml)
    ("flat", "attn-flat.csv", 2e-3, (("BERT", "4K"), ("XLM", "1K"), ("BERT", "1M"))),
    ("fusemax", "attn-binding.csv", 2e-3, (("BERT", "4K"), ("XLM", "1K")))])
def test_ladder_mapping_files_give_the_artifacts_times(config, table, rel, points):
    # the published artifact's per-point latencies (seconds at 940 MHz; FPSG-UIUC/micro24-
    # fusemax-artifact at f543beb, tests/data/fusemax_artifact/SOURCES.md); both engines give
    # the same cycles on these graphs
    import csv
    from pathlib import Path

    from mappings.workloads import workload
    from studies.families.attention import DEFAULT_ARCH, ladder_graph

    rows = {(r["model"], r["seq_len"]): r for r in
            csv.DictReader((Path(__file__).resolve().parents[1] / "data" / "fusemax_artifact" / table).open())}
    spec = load_arch(DEFAULT_ARCH[config], {})
    for model, L in points:
        mapped, name = ladder_graph(spec, workload(model.lower(), L, 64), config)
        assert name == ("flat-spill" if L == "1M" else config)
        a, d = analytical(mapped), des(mapped)
        assert d.cycles == a.cycles
        assert a.seconds == pytest.approx(float(rows[(model, L)]["latency"]), rel=rel)


def test_a_task_without_instances_in_the_steady_phase_is_left_out():
    # linear.yaml on a GEMM whose weights fit in one panel: the weights are loaded once, before
    # the first tile (a prologue phase); the steady phase holds no instance of that load, so
    # its period is 1 and the DES fast-forwards it, with the cycles of a full simulation
    M, N, K = 256 * 64, 768, 768
    g = lower(library.gemm(), {"M": M, "N": N, "K": K}, load("linear"), SPEC)
    steady = next(ph for ph in g.phases if ph.name.endswith("steady"))
    assert "load.B" not in {t.name for t in steady.tasks} and steady.period == 1
    ff, full = des(g), des(g, fast_forward=False)
    assert ff.cycles == full.cycles == analytical(g).cycles and ff.extrapolated_steps > 0
    # A streamed once, B loaded once, Z stored once: 2-byte words
    assert ff.actions[("dram", "read")] == 2 * (M * K + K * N)
    assert ff.actions[("dram", "write")] == 2 * M * N
    assert ff.actions[("pe2d", "mac")] == M * N * K


@pytest.mark.parametrize("name,arch", [("unfused", "unfused"), ("flat", "flat"), ("flat-spill", "flat"),
                                       ("cascade", "flat"), ("architecture", "fusemax"), ("fusemax", "fusemax"),
                                       ("linear", "fusemax")])
@pytest.mark.parametrize("model,length", [("bert", "1K"), ("xlm", "64K"), ("t5", "1M")])
def test_dram_cycles_are_the_channels_busy_cycles_and_bound_both_engines(name, arch, model, length):
    # dram_cycles reads the plans only; counted here from the graph instead (each DRAM task's
    # cycles times the instances its phases run) it must be equal, and at most the bound FLAT
    # chooses by and the cycles of both engines
    from mappings.workloads import workload
    from sim.analytical import phase_bound
    from sim.cascade import dram_cycles, graph, planned
    from studies.families.attention import arrays, attention_cascade

    spec, m = load_arch(arch, {}), load(name)
    wl = workload(model, length, 1)
    if name == "linear":
        gemm = wl.linear_layers()[0][0]
        cascade, shape = library.gemm(), {"M": gemm.tokens, "N": gemm.n, "K": gemm.k}
    else:
        cascade, shape = attention_cascade(m, wl, arrays(spec)[0].rows)
    p = planned(cascade, shape, m, spec)
    g = graph(p)
    busy = sum(t.cycles * t.count(ph.iterations) for ph in g.phases for t in ph.tasks if t.unit == "dram")
    assert dram_cycles(p) == busy > 0
    assert busy <= sum(phase_bound(ph) for ph in g.phases) <= analytical(g).cycles
    if length == "1K":
        assert busy <= des(g).cycles
