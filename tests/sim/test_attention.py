"""The ladder's shipped mapping files (and the linear layers' ``linear.yaml``) run through the
generic lowering: conservation of the cascade's work, closed-form cycles and traffic,
utilization against derivations and the published figures, cross-engine agreement, errors.

Expected values are derived here from the hardware figures of docs/sources.md#fusemax-arch
(256 x 256 2D array, 256-PE 1D array, exp = 6 sequential MACs on FuseMax, one cycle per
element per Einsum on FLAT's 1D array, 4-cycle divider) and the FuseMax mapping, not read
back from the code under test.
"""

import pytest

from arch.errors import MappingError, SpecError, WorkloadError
from arch.registry import load_arch
from mappings.workloads import Workload, model, parse_seq_len, workload
from sim import analytical
from studies.families.attention import CONFIGS, DEFAULT_ARCH, layer_graph

PD = 256


def graph(config, name="bert", L=1024, batch=1, scope="attention", overrides=None):
    spec = load_arch(DEFAULT_ARCH[config], overrides or {})
    return layer_graph(spec, Workload(model(name), L, batch), config, scope)


def lower(spec, wl, config="fusemax", scope="attention", dram_staging=True):
    return layer_graph(spec, wl, config, scope, dram_staging)


# --------------------------------------------------------------------------- workloads

@pytest.mark.parametrize("text,n", [("1K", 1024), ("4k", 4096), ("1M", 1 << 20), ("256K", 1 << 18),
                                    ("3000", 3000), (2048, 2048)])
def test_seq_len_parsing(text, n):
    assert parse_seq_len(text) == n


@pytest.mark.parametrize("bad", ["0", "1G", "abc", "-5", "", True])
def test_seq_len_errors(bad):
    with pytest.raises(WorkloadError, match="'seq_len' must be"):
        parse_seq_len(bad)


def test_unknown_model_message():
    with pytest.raises(WorkloadError) as e:
        model("gpt")
    assert str(e.value) == "'model' must be one of bert, trxl, t5, xlm, not 'gpt'"


def test_linear_layers_macs():
    # one encoder layer: 4 D x D projections (Q, K, V, out) and 2 D x S feed-forward GEMMs per token
    wl = workload("bert", "1K")
    before, after = wl.linear_layers()
    tokens = 64 * 1024
    assert sum(g.macs for g in before + after) == tokens * (4 * 768 * 768 + 2 * 768 * 3072)


# --------------------------------------------------------------------------- conservation

def _op_totals(g):
    actions = g.totals()[0]
    out = {}
    for (comp, act), n in actions.items():
        if comp in ("pe2d", "pe1d"):
            out[act] = out.get(act, 0) + n
    return out


@pytest.mark.parametrize("config", ["fusemax", "architecture", "cascade"])
def test_one_pass_work_is_the_cascades(config):
    L, E, F, B, H = 2048, 64, 64, 1, 12
    g = graph(config, L=L, batch=B)
    ops = _op_totals(g)
    n = B * H
    M1 = L // PD
    # BQK and SLNV: E and F MACs per score; SLN: one sub and one exp per score;
    # LM: one max per score; SLD: one add per score; RM: one max per (m1, p);
    # PRM: sub + exp per (m1, p); SPD: mul per (m1, p); RD: add per (m1, p);
    # SPNV: F muls per (m1, p); RNV: F adds per (m1, p); AV: F divides per p.
    assert ops["mac"] == n * L * L * (E + F)
    assert ops["exp"] == n * (L * L + M1 * L)
    assert ops["sub"] == n * (L * L + M1 * L)
    assert ops["max"] == n * (L * L + M1 * L)
    assert ops["add"] == n * (L * L + M1 * L + F * M1 * L)
    assert ops["mul"] == n * (M1 * L + F * M1 * L)
    assert ops["div"] == n * F * L


@pytest.mark.parametrize("config", ["flat", "unfused"])
def test_three_pass_work_is_the_cascades(config):
    L, E, F, n = 1024, 64, 64, 12
    ops = _op_totals(graph(config, L=L))
    assert ops["mac"] == n * L * L * (E + F)
    for op in ("max", "sub", "exp", "add", "div"):   # GM, SN (sub, exp), SD, A: one per score
        assert ops[op] == n * L * L, op


def _group_loops(config, name="bert", L=1024, batch=1):
    """The loop tiles of the rung's (single) fusion group as its file's plan sizes them."""
    from mappings.cascade_mapping import shipped
    from mappings.cascade_plan import plan
    from studies.families.attention import attention_cascade

    spec = load_arch(DEFAULT_ARCH[config])
    m = shipped(graph(config, name, L, batch).meta["mapping"])
    (gp,) = plan(*attention_cascade(m, Workload(model(name), L, batch), PD), m, spec)
    return dict(gp.loops)


def test_fusemax_dram_is_compulsory_when_kv_fit():
    # 1K tokens: fusemax.yaml's query tile covers all 1024 queries, so Q, K, V are read once
    # and AV written once: 4 tensors of L x E words of 2 bytes per head.
    g = graph("fusemax", L=1024, batch=2)
    r = analytical.run(g)
    assert _group_loops("fusemax", L=1024, batch=2)["P"] == 1024
    assert r.dram_bytes == 2 * 12 * 4 * 1024 * 64 * 2


def test_fusemax_kv_reread_per_block():
    # 64K tokens: K and V (L x (E + F) words per head) stream once per query tile of the
    # fusion group's P loop; Q is read and AV written once.
    L = 65536
    pt = _group_loops("fusemax", L=L)["P"]
    assert pt % PD == 0 and L % pt == 0 and pt < L
    expected = 12 * (2 * L * 64 * 2 + (L // pt) * (L * 128 * 2))
    assert analytical.run(graph("fusemax", L=L)).dram_bytes == expected


# --------------------------------------------------------------------------- cycles

def test_fusemax_steady_state_cycles_closed_form():
    # Per tile step of P1 query tiles: 2D issues BQK E, LM 1, SLN 1 + 6, SLD 1, SLNV F cycles;
    # 1D issues RM 1, PRM 7, SPD 1, RD 1, SPNV F, RNV F per query tile, plus AV F once per
    # query tile. The 1D array is the bottleneck: (2F + 10) per (m1, tile) + F per tile.
    L, E, F = 16384, 64, 64
    M1, Pt, n = L // PD, L // PD, 12
    one_d = n * Pt * (M1 * (2 * F + 10) + F)
    two_d = n * Pt * M1 * (E + F + 9)
    r = analytical.run(graph("fusemax", L=L))
    assert r.busy_cycles["pe1d"] == one_d
    assert r.busy_cycles["pe2d"] == two_d
    # plus the pipeline's fill and drain: the first Q block load and the last AV store
    # (P1 * 256 * E * 2 bytes each at 457 B/cycle) and a few tile steps of P1 query tiles
    # around the two barriers at each end of the software pipeline
    p1 = 64
    q_block = -(-p1 * PD * E * 2 // (400 * 2**30 / 940e6))
    edge = 2 * q_block + 4 * p1 * (2 * F + 10 + F)
    assert one_d <= r.cycles <= one_d + edge
    assert r.utilization["pe2d"] == pytest.approx(two_d / one_d, rel=5e-3)


@pytest.mark.parametrize("name,L,published", [("bert", 1024, 0.89), ("bert", 1 << 20, 0.99),
                                               ("xlm", 1024, 0.89), ("xlm", 1 << 20, 0.99)])
def test_fusemax_2d_utilization_published(name, L, published):
    # FuseMax (MICRO 2024): 2D utilization ~0.89 at 1K rising to ~0.99 at 1M (docs/sources.md#fusemax-results)
    u = analytical.run(graph("fusemax", name, L, batch=64)).utilization["pe2d"]
    assert u == pytest.approx(published, abs=0.01)


@pytest.mark.parametrize("name,published", [("bert", 0.125), ("t5", 0.125), ("xlm", 0.25)])
def test_flat_2d_utilization_published(name, published):
    # FLAT as FuseMax models it: 2D utilization 0.125 (0.25 for XLM): (E + F) / (4 * 256)
    u = analytical.run(graph("flat", name, 4096, batch=64)).utilization["pe2d"]
    assert u == pytest.approx(published, rel=1e-3)


def test_flat_vs_fusemax_speedup_closed_form():
    # FLAT: 4 one-cycle passes per score on 256 PEs = 1024 cycles per 256 x 256 tile.
    # FuseMax at 1K: M1 = 4, so 2F + 10 + F / M1 = 154 cycles per tile -> 6.65x.
    flat = analytical.run(graph("flat", L=1024, batch=64)).cycles
    fm = analytical.run(graph("fusemax", L=1024, batch=64)).cycles
    assert flat / fm == pytest.approx(1024 / 154, rel=0.01)


def test_flat_spills_at_one_million_tokens():
    g = graph("flat", L=1 << 20)
    assert g.meta["mapping"] == "flat-spill"
    # Spilled, flat-spill.yaml states the artifact's block of R = 1024 queries (the P1 column of
    # its flat_validation.csv, docs/fusemax.md)
    R = 1024
    assert _group_loops("flat", L=1 << 20)["P"] == R
    # QK written and read back, SN written and read back: 4 words per score, plus K and V
    # once per block of R queries and Q and AV once.
    L, n = 1 << 20, 12
    expected = n * (L * L * 2 * 4 + (L // R) * L * 128 * 2 + 2 * L * 64 * 2)
    assert analytical.run(g).dram_bytes == expected


def test_flat_keeps_a_short_head_on_chip():
    # 1K tokens: two in-place blocks of all 1024 queries x 1024 scores and two AV tiles
    # (4 x 1024 x (1024 + 64) x 2 bytes = 8.5 MiB) fit in 32 MiB, so FLAT reads Q, K, V once
    # and writes AV once per head: the compulsory traffic.
    g = graph("flat", L=1024, batch=2)
    assert g.meta["mapping"] == "flat" and _group_loops("flat", L=1024, batch=2)["P"] == 1024
    assert analytical.run(g).dram_bytes == 2 * 12 * 4 * 1024 * 64 * 2


# --------------------------------------------------------------------------- engines

@pytest.mark.parametrize("config", CONFIGS)
def test_des_never_beats_analytical_and_energy_agrees(config):
    from sim import des

    g = graph(config, name="t5", L=4096, batch=2, scope="end2end")
    a, d = analytical.run(g), des.run(g)
    assert d.cycles >= a.cycles
    assert d.energy_pj == pytest.approx(a.energy_pj, rel=1e-12)
    assert d.dram_bytes == a.dram_bytes
    if config != "architecture":
        # every schedule but the naive binding keeps its bottleneck unit busy: the DES meets
        # the bound up to the pipelines' fill and drain
        assert d.cycles <= a.cycles * 1.002


def test_des_fusemax_binding_hides_the_reduction_latency():
    from sim import des

    g = graph("fusemax", L=65536)
    assert des.run(g).cycles <= analytical.run(g).cycles * 1.001


def test_des_naive_binding_stalls_on_the_running_max():
    # +Architecture: every tile waits for LM to drain down 256 rows and RM to come back:
    # 2D per tile ~ E + 1 + 256 + 1 + 7 + 1 + F cycles instead of ~138.
    from sim import des

    d = des.run(graph("architecture", L=16384))
    assert 0.28 < d.utilization["pe2d"] < 0.40


def test_des_fast_forwards_one_million_tokens():
    from sim import des

    r = des.run(graph("fusemax", L=1 << 20, batch=64))
    assert r.extrapolated_steps > 100 * r.simulated_steps


def test_dram_roofline_limit():
    # With 1/1000 of the bandwidth, FuseMax attention becomes DRAM bound: cycles -> bytes / bw.
    g = graph("fusemax", L=4096, overrides={"dram_gbps": 0.4})
    r = analytical.run(g)
    bw = 0.4 * 2**30 / 940e6
    assert r.cycles == pytest.approx(r.dram_bytes / bw, rel=0.01)


def test_end2end_adds_the_linear_layers():
    a = analytical.run(graph("fusemax", L=1024, batch=1))
    e = analytical.run(graph("fusemax", L=1024, batch=1, scope="end2end"))
    tokens = 1024
    macs = tokens * (4 * 768 * 768 + 2 * 768 * 3072)
    assert e.actions[("pe2d", "mac")] - a.actions[("pe2d", "mac")] == macs
    assert e.cycles >= a.cycles + macs // (256 * 256)


# --------------------------------------------------------------------------- errors

def test_unknown_config_message():
    with pytest.raises(WorkloadError) as e:
        lower(load_arch("fusemax"), workload("bert", "1K"), "flash")
    assert str(e.value) == "'config' must be one of unfused, flat, cascade, architecture, fusemax, not 'flash'"


def test_buffer_smaller_than_a_tile():
    # 0.1 MiB = 104857.6 bytes, rounded to whole bytes
    with pytest.raises(MappingError, match=r"tiles at level 'glb' need \d+ bytes at once but it holds 104858$"):
        graph("fusemax", L=1024, overrides={"glb_mb": 0.1})


def test_binding_to_a_unit_without_the_operator():
    # FLAT's 2D array has neither sub nor exp: the FuseMax binding cannot run SLN on it.
    with pytest.raises(MappingError, match=r"^einsum 'SLN': unit 'pe2d' lacks operator 'sub' \(it has: mac, mul, add, max\)$"):
        lower(load_arch("flat"), workload("bert", "1K"), "fusemax")


def test_spec_without_a_1d_array():
    with pytest.raises(SpecError, match="exactly one 2D and one 1D PE array"):
        lower(load_arch("systolic"), workload("bert", "1K"), "fusemax")


@pytest.mark.parametrize("config", CONFIGS)
def test_short_ragged_sequences_run_on_both_engines(config):
    # 300 tokens: two 256-token tiles, the second ragged (timed as a full tile)
    from sim import des

    g = graph(config, name="t5", L=300, scope="end2end")
    assert des.run(g).cycles >= analytical.run(g).cycles > 0


@pytest.mark.parametrize("config", CONFIGS)
def test_a_sequence_shorter_than_the_array_is_refused_in_one_line(config):
    # the files spread 256 keys or queries over the array: 100 tokens cannot fill a tile
    with pytest.raises(MappingError, match=r"^(fusion group \[.*\]: )?einsum '(QK|BQK)': .*\(100\)$|must be at most 100, not \d+$"):
        graph(config, name="t5", L=100)


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=12, deadline=None)
@given(config=st.sampled_from(CONFIGS), name=st.sampled_from(["bert", "t5", "xlm"]),
       tiles=st.integers(1, 12), pe_dim=st.sampled_from([64, 128, 256]),
       scope=st.sampled_from(["attention", "end2end"]))
def test_property_engines_agree_and_work_is_conserved(config, name, tiles, pe_dim, scope):
    from sim import des

    L = tiles * pe_dim
    g = graph(config, name=name, L=L, scope=scope, overrides={"pe_dim": pe_dim})
    a, d = analytical.run(g), des.run(g)
    assert d.cycles >= a.cycles > 0
    assert d.energy_pj == pytest.approx(a.energy_pj, rel=1e-12)
    m = model(name)
    macs = m.heads * L * L * (m.e + m.f)                  # QK and AV (or BQK and SLNV)
    if scope == "end2end":
        macs += L * (4 * m.d_model * m.heads * m.e + 2 * m.d_model * m.ffn)
    assert a.actions[("pe2d", "mac")] == macs


# --------------------------------------------------------------------------- DRAM staging

@pytest.mark.parametrize("config", ["unfused", "flat", "fusemax"])
def test_dram_staging_books_at_most_the_staging_of_every_dram_byte(config):
    from sim import des

    spec = load_arch(DEFAULT_ARCH[config])
    wl = Workload(model("bert"), 2048, 1)
    staged = analytical.run(lower(spec, wl, config, "end2end"))
    bypass_graph = lower(spec, wl, config, "end2end", dram_staging=False)
    bypass = analytical.run(bypass_graph)
    assert bypass.cycles == staged.cycles and bypass.dram_bytes == staged.dram_bytes
    # staging writes every byte loaded from DRAM into the buffer and reads every byte stored
    # to DRAM out of it, in rows of access_bytes; the files already book that for the tensors
    # the buffer keeps (the weights of linear.yaml among them), so staging adds at most this
    g = spec.storage["glb"]
    rd = staged.actions[("dram", "read")]
    wr = staged.actions[("dram", "write")]
    most = rd / g.access_bytes * g.write_pj + wr / g.access_bytes * g.read_pj
    assert 0 < staged.energy_pj - bypass.energy_pj < most
    assert des.run(bypass_graph).energy_pj == pytest.approx(bypass.energy_pj, rel=1e-12)


def test_dram_staging_must_be_a_bool():
    spec = load_arch("fusemax")
    with pytest.raises(WorkloadError, match=r"^'dram_staging' must be true or false, not 'no'$"):
        lower(spec, Workload(model("bert"), 1024, 1), "fusemax", dram_staging="no")
