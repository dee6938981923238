"""Sizes in a cascade mapping that follow the spec (``pe2d.rows``, ``min(pe2d.cols, P)``,
``fit(STEP)``): reading, one-line refusals with the key path, the tile ``fit`` chooses, and the
shipped ladder files under ``--set pe_dim`` on both engines."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arch.errors import MappingError
from arch.registry import load_arch
from mappings import library
from mappings.cascade_mapping import dump, from_dict, load, loads
from mappings.cascade_plan import plan
from mappings.cascade_sizes import Size, fit_candidates
from mappings.workloads import workload
from studies.families.attention import attention_cascade
from sim import analytical, des
from sim.cascade import lower


def test_expressions_read_the_units_and_the_ranks():
    spec = load_arch("fusemax", {"pe_dim": 128})
    assert Size("pe2d.rows").value(spec.compute, {}) == 128
    assert Size("pe1d.pes").value(spec.compute, {}) == 128
    assert Size("pe1d.cols").value(spec.compute, {}) == 1           # a 1D unit is one column
    assert Size("min(pe2d.cols, P)").value(spec.compute, {"P": 64}) == 64
    assert Size("4 * pe2d.cols // 2 - 1").value(spec.compute, {}) == 255
    assert Size("fit(2 * pe2d.cols)").is_fit and Size("fit(2 * pe2d.cols)").value(spec.compute, {}) == 256


def test_fit_candidates_are_step_times_the_divisors():
    assert fit_candidates(256, 4096) == (4096, 2048, 1024, 512, 256)
    assert fit_candidates(1, 12) == (12, 6, 4, 3, 2, 1)
    assert fit_candidates(256, 1000) == (1000, 512, 256)   # ceil(1000 / 256) = 4 tiles, the last an edge


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 512), st.integers(1, 30000))
def test_fit_candidates_are_every_divisor_by_definition(step, size):
    # step * d for each d in 1..n dividing n = ceil(size / step), capped at size, largest first
    n = -(-size // step)
    assert list(fit_candidates(step, size)) == sorted({min(step * d, size) for d in range(1, n + 1) if n % d == 0},
                                                      reverse=True)


@pytest.mark.parametrize("value,message", [
    ("pe_dim", "x.yaml: einsums.Z.spatial[0][1]: 'pe_dim' names 'pe_dim', not a rank here (ranks: M, N, K)"),
    ("pe3d.rows", "x.yaml: einsums.Z.spatial[0][1]: 'pe3d.rows' names 'pe3d', not a compute unit of the spec (units: pe2d, pe1d)"),
    ("pe2d.rows - 256", "x.yaml: einsums.Z.spatial[0][1]: 'pe2d.rows - 256' evaluates to 0, which is not a size >= 1"),
])
def test_a_bad_name_is_refused_at_plan_time_with_its_key_path(value, message):
    m = from_dict({"einsums": {"Z": {"unit": "pe1d", "spatial": [["M", value]]}}}, "x.yaml")
    with pytest.raises(MappingError) as err:
        plan(library.gemm(), {"M": 4, "N": 4, "K": 4}, m, load_arch("fusemax", {}))
    assert str(err.value) == message


@pytest.mark.parametrize("value,message", [
    ("pe2d.rows ** 2", "x.yaml: einsums.Z.spatial[0][1]: 'pe2d.rows ** 2' uses an operator other than + - * //"),
    ("pe2d.depth", "x.yaml: einsums.Z.spatial[0][1]: 'pe2d.depth' reads something other than UNIT.rows/cols/pes"),
    ("sqrt(4)", "x.yaml: einsums.Z.spatial[0][1]: 'sqrt(4)' calls something other than min, max, fit"),
    ("2.5", "x.yaml: einsums.Z.spatial[0][1]: '2.5' has a constant that is not an integer: 2.5"),
    ("pe2d.rows,", "x.yaml: einsums.Z.spatial[0][1]: 'pe2d.rows,' has a Tuple (integers, + - * //, min, max, fit, UNIT.rows, ranks)"),
    ("fit(1)", "x.yaml: einsums.Z.spatial[0][1]: 'fit(1)': fit(STEP) is allowed only as a loop tile "
               "(a fusion group's, or an Einsum's tile at a level)"),
])
def test_a_malformed_expression_is_refused_when_read(value, message):
    with pytest.raises(MappingError) as err:
        from_dict({"einsums": {"Z": {"unit": "pe1d", "spatial": [["M", value]]}}}, "x.yaml")
    assert str(err.value) == message


def test_two_fit_loops_in_one_group_are_refused():
    m = from_dict({"einsums": {"Z": {"unit": "pe1d"}},
                   "fusion": [{"einsums": ["Z"], "buffer": "glb", "loops": [["M", "fit(1)"], ["N", "fit(1)"]]}]})
    with pytest.raises(MappingError) as err:
        plan(library.gemm(), {"M": 64, "N": 64, "K": 64}, m, load_arch("fusemax", {}))
    assert str(err.value) == ("einsum 'Z': loops of ranks 'M' and 'N' at level 'glb' are both fit(...); "
                              "at most one may be")


def test_fit_at_a_level_only_for_an_einsum_alone_at_a_shared_buffer():
    spec = load_arch("fusemax", {})
    m = from_dict({"einsums": {"Z": {"unit": "pe2d", "levels": {"rf2d": {"tiles": {"K": "fit(1)"}}}}}}, "x.yaml")
    with pytest.raises(MappingError) as err:
        plan(library.gemm(), {"M": 64, "N": 64, "K": 64}, m, spec)
    assert str(err.value) == ("x.yaml: einsums.Z.levels.rf2d.tiles.K: 'fit(1)' (tile of rank 'K' of einsum 'Z' at level "
                              "'rf2d'): fit(STEP) is allowed only as a fusion group's loop tile or a shared buffer's "
                              "tile of an Einsum in no group")


def test_fit_at_the_buffer_of_an_einsum_alone_takes_the_largest_tile_that_fits():
    # Z = A x B, 4096^3, tiles M = fit(256), N = 1024, K = 256: the buffer keeps A (M x 256),
    # B (256 x 1024) and Z (M x 1024) double-buffered in 2-byte words, 4 (256 M + 256 x 1024 +
    # 1024 M) <= 2^24, so M <= 3072.8; the largest multiple of 256 dividing 4096 within it is 2048
    spec = load_arch("fusemax", {})
    m = from_dict({"einsums": {"Z": {"unit": "pe2d", "spatial": [["M", 256], ["N", 256]],
                                     "levels": {"glb": {"tiles": {"M": "fit(256)", "N": 1024, "K": 256}}},
                                     "loop_order": ["M", "N", "K"]}}})
    assert 4 * (256 * 3072 + 256 * 1024 + 1024 * 3072) <= 2 ** 24 < 4 * (256 * 3328 + 256 * 1024 + 1024 * 3328)
    (gp,) = plan(library.gemm(), {"M": 4096, "N": 4096, "K": 4096}, m, spec)
    assert gp.loops == (("M", 2048), ("N", 1024), ("K", 256))
    assert gp.of("Z").tiles["glb"]["M"] == 2048


def test_fit_refuses_when_even_the_smallest_tile_overflows():
    # fit(1) over M of a 4096^3 GEMM: even M = 1 keeps B (4096 x 4096 words, 2 bytes, double
    # buffered: 64 MiB) in the 16 MiB buffer, so the smallest candidate's overflow is reported
    m = from_dict({"einsums": {"Z": {"unit": "pe1d"}},
                   "fusion": [{"einsums": ["Z"], "buffer": "glb", "loops": [["M", "fit(1)"]]}]})
    with pytest.raises(MappingError) as err:
        plan(library.gemm(), {"M": 4096, "N": 4096, "K": 4096}, m, load_arch("fusemax", {}))
    assert str(err.value).startswith("einsum 'Z': tiles at level 'glb' need ")
    assert float(str(err.value).split(" need ")[1].split()[0]) >= 2 * 4096 * 4096 * 2


def test_expressions_round_trip_as_text():
    m = load("fusemax")
    text = dump(m)
    assert "pe2d.rows" in text and "fit(pe2d.cols)" in text
    assert loads(text) == m


def _attention_point(mapping, spec, model="bert", seq_len="4K"):
    wl = workload(model, seq_len, 64)
    name = mapping.cascade
    cascade = library.attention(passes=int(name[len("attention-")]), deferred_division=name.endswith("-deferred"),
                                batch=True)
    return wl, cascade, {**wl.attention_shape(), "B": wl.batch, "H": wl.heads, "M0": spec.compute["pe2d"].rows}


def test_fit_takes_flats_block_the_largest_whose_counted_score_blocks_fit():
    # flat.yaml counts, in the 32 MiB buffer, one in-place block of R x M scores
    # (capacity_slots: 1, the artifact's count) and two R x F AV tiles (2-byte words):
    # 2 R M + 4 R F <= 2^25, so at M = 16K, F = 64: R <= 1016.1, and the largest divisor of
    # 16K within it is 512. Counting both slots (the physical default): 4 R (M + F) <= 2^25,
    # R <= 510.0, so 256 (the dedicated FLAT lowering's block at this point)
    spec = load_arch("flat", {})
    m = load("flat")
    _, cascade, sizes = _attention_point(m, spec, "bert", "16K")
    assert 2 ** 25 // (2 * 16384 + 4 * 64) == 1016 and 2 ** 25 // (4 * (16384 + 64)) == 510
    (gp,) = plan(cascade, sizes, m, spec)
    assert dict(gp.loops)["P"] == 512
    assert gp.of("QK").spatial == (("M", 256), ("P", 256))
    data = m.to_dict()
    del data["fusion"][0]["capacity_slots"]
    (gp,) = plan(cascade, sizes, from_dict(data, "f.yaml"), spec)
    assert dict(gp.loops)["P"] == 256


@pytest.mark.parametrize("config,arch,pe_dim", [
    ("fusemax", "fusemax", 128), ("fusemax", "fusemax", 64), ("architecture", "fusemax", 512),
    ("cascade", "flat", 128), ("cascade", "flat", 512), ("flat", "flat", 128), ("flat", "flat", 512),
    ("unfused", "unfused", 64), ("unfused", "unfused", 512)])
def test_shipped_files_follow_pe_dim_on_both_engines(config, arch, pe_dim):
    # the file's sizes are written against the spec: at any pe_dim every Einsum spreads over
    # the whole array, the 2D array does the cascade's MACs (QK and AV: E + F per score, 12
    # heads, batch 64), at most pe_dim^2 per cycle, and the DES never beats the bound
    spec = load_arch(arch, {"pe_dim": pe_dim})
    m = load(config)
    wl, cascade, sizes = _attention_point(m, spec, "bert", "4K")
    graph = lower(cascade, sizes, m, spec)
    a, d = analytical.run(graph), des.run(graph)
    macs = 64 * 12 * 4096 * 4096 * (64 + 64)
    assert a.actions[("pe2d", "mac")] == d.actions[("pe2d", "mac")] == macs
    assert d.cycles >= a.cycles >= macs / pe_dim ** 2
    placements = [p for gp in plan(cascade, sizes, m, spec) for p in gp.placements]
    assert {p.spatial[0][1] for p in placements} == {pe_dim}     # rows of the 2D array, PEs of the 1D


def _flat_spill(**changes):
    data = load("flat-spill").to_dict()
    data["fusion"][0].update(changes)
    return from_dict(data, "s.yaml")


def test_spill_round_trips_with_the_artifacts_block():
    # flat-spill.yaml states the published FLAT mapping's block of 1024 queries (P1 in the
    # artifact's flat_validation.csv at 128K tokens and beyond); QK and SN, 1M x 1024 each per
    # block, go to DRAM
    m = load("flat-spill")
    assert loads(dump(m)) == m and dict(m.fusion[0].spill) == {"QK": "SN", "SN": "A"}
    spec = load_arch("flat", {})
    _, cascade, sizes = _attention_point(m, spec, "bert", "1M")
    (gp,) = plan(cascade, sizes, m, spec)
    assert dict(gp.loops)["P"] == 1024
    spilled = {(t.tensor, t.kind): t for t in gp.transfers if t.spilled}
    assert set(spilled) == {("QK", "store"), ("QK", "load"), ("SN", "store"), ("SN", "load")}
    assert spilled[("QK", "load")].einsum == "SN" and spilled[("QK", "load")].words == 1024 * 2 ** 20


@pytest.mark.parametrize("changes,message", [
    ({"spill": {"QK": "GM", "SN": "A"}}, "fusion group ['QK', 'GM', 'SN', 'SD', 'A', 'AV']: spilled tensor 'QK' at level "
                                         "'glb' needs einsum 'GM' at least two stages after einsum 'QK' (a store, then a "
                                         "load), not 0"),
    # QK not spilled: SN, two stages on, has it nowhere (not in the buffer, not in DRAM)
    ({"spill": {"SN": "A"}}, "fusion group ['QK', 'GM', 'SN', 'SD', 'A', 'AV']: einsum 'QK' bypasses passed tensor 'QK' at "
                             "level 'glb', but 'QK' and 'SN' neither share a unit with per-PE storage to hold it nor both "
                             "bypass it in one stage"),
    ({"spill": {"QK": "AV"}}, "fusion group ['QK', 'GM', 'SN', 'SD', 'A', 'AV']: spill of tensor 'QK' to einsum 'AV' at "
                             "level 'glb': the group must produce 'QK' and 'AV' must read it"),
    ({"stages": {"QK": 1, "GM": 1, "SN": 2, "SD": 2, "A": 4, "AV": 4}},
     "fusion group ['QK', 'GM', 'SN', 'SD', 'A', 'AV']: spilled tensor 'QK' at level 'glb' needs einsum 'SN' at least "
     "two stages after einsum 'QK' (a store, then a load), not 1"),
])
def test_spill_refusals_are_one_line(changes, message):
    spec = load_arch("flat", {})
    m = _flat_spill(**changes)
    _, cascade, sizes = _attention_point(m, spec, "bert", "1M")
    with pytest.raises(MappingError) as err:
        plan(cascade, sizes, m, spec)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_stage_dram_books_the_staging_of_every_dram_byte():
    # flat-spill.yaml bypasses Q, K, V and QK: with stage_dram every byte loaded is also a
    # buffer write and every byte stored a buffer read (512-byte rows), cycles unchanged
    spec = load_arch("flat", {})
    m = load("flat-spill")
    _, cascade, sizes = _attention_point(m, spec, "bert", "256K")
    plain, staged = (analytical.run(lower(cascade, sizes, m, spec, stage_dram=s)) for s in (False, True))
    assert staged.cycles == plain.cycles and staged.dram_bytes == plain.dram_bytes
    rd, wr = (staged.actions.get(("glb", k), 0) - plain.actions.get(("glb", k), 0) for k in ("read", "write"))
    loaded = plain.actions[("dram", "read")]
    stored = plain.actions[("dram", "write")]
    kept = {t.tensor for gp in plan(cascade, sizes, m, spec) for t in gp.transfers if t.kept}
    assert kept == {"AV", "QK", "SN"}          # SN keeps QK, A keeps SN, AV's accumulators
    assert 0 < wr < loaded / 512 and 0 < rd < stored / 512


def _with_levels(spec, **size_bytes):
    """``spec`` with its storage levels of the given names resized (bytes)."""
    from dataclasses import replace
    from types import MappingProxyType

    levels = {k: replace(v, size_bytes=size_bytes.get(k, v.size_bytes)) for k, v in spec.storage.items()}
    return replace(spec, storage=MappingProxyType(levels))


@pytest.mark.parametrize("name,arch,fit", [("fusemax", "fusemax", "fit(pe2d.cols)"), ("cascade", "flat", "fit(pe2d.cols)"),
                                           ("flat", "flat", "fit(1)")])
@pytest.mark.parametrize("glb,registers", [(1, 1), (1 / 8, 1), (1 / 64, 1), (1, 4), (1, 1 / 2), (1 / 3, 3)])
def test_fit_takes_the_largest_candidate_whose_fixed_tile_plans(name, arch, fit, glb, registers):
    # the search (the largest candidate, then a probe the overflow guides, then bisection) is
    # checked against planning every candidate written as a fixed tile, largest first: the
    # first that plans is the one fit must take (buffers and registers resized to move it)
    base = load_arch(arch, {})
    regs = {k: max(1, int(v.size_bytes * registers)) for k, v in base.storage.items() if v.per_pe_of}
    spec = _with_levels(base, glb=max(1, int(base.storage["glb"].size_bytes * glb)), **regs)
    m = load(name)
    wl = workload("bert", "16K", 64)
    cascade, shape = attention_cascade(m, wl, spec.compute["pe2d"].rows)
    step = spec.compute["pe2d"].cols if "pe2d" in fit else 1
    expected = None
    for tile in fit_candidates(step, wl.seq_len):
        fixed = loads(dump(m).replace(fit, str(tile)), "fixed.yaml")
        try:
            plan(cascade, shape, fixed, spec)
        except MappingError:
            continue
        expected = tile
        break
    if expected is None:
        with pytest.raises(MappingError):
            plan(cascade, shape, m, spec)
        return
    (gp,) = [g for g in plan(cascade, shape, m, spec) if "P" in dict(g.loops)]
    assert dict(gp.loops)["P"] == expected


def test_what_a_group_holds_is_kept_per_buffer_and_registers():
    # a group's capacity check is kept per what it reads (mappings.cascade_plan._held): planned
    # on smaller and smaller buffers and registers after one another, each plan equals the one
    # planned with nothing kept, and a refusal repeats its first message
    from mappings import cascade_plan

    base = load_arch("fusemax", {})
    m = load("fusemax")
    cascade, shape = attention_cascade(m, workload("xlm", "64K", 64), base.compute["pe2d"].rows)
    specs = [_with_levels(base, glb=int(base.storage["glb"].size_bytes * g),
                          **{k: max(1, int(v.size_bytes * r)) for k, v in base.storage.items() if v.per_pe_of})
             for g, r in ((1, 1), (1 / 8, 1), (1 / 64, 1), (1, 1 / 2), (1 / 4096, 1))]

    def planned(spec):
        try:
            return plan(cascade, shape, m, spec)
        except MappingError as err:
            return str(err)

    warm = [planned(spec) for spec in specs]
    assert planned(specs[-1]) == warm[-1] and isinstance(warm[-1], str)
    fresh = []
    for spec in specs:
        cascade_plan._held.cache_clear()
        fresh.append(planned(spec))
    assert warm == fresh
    assert len({str(w) for w in warm}) >= 3   # the buffers and registers change what plans


def test_what_a_lone_einsum_holds_is_kept_per_buffer():
    # an Einsum alone passes no tensor (its passes are the one empty tuple): what it holds is
    # kept per buffer all the same, so a smaller buffer takes a smaller fit tile
    from mappings import cascade_plan

    base = load_arch("fusemax", {})
    m = load("linear")
    shape = {"M": 65536, "N": 4096, "K": 1024}
    specs = [_with_levels(base, glb=int(base.storage["glb"].size_bytes * g)) for g in (1, 1 / 4, 1 / 16)]
    warm = [plan(library.gemm(), shape, m, spec) for spec in specs]
    fresh = []
    for spec in specs:
        cascade_plan._held.cache_clear()
        fresh.append(plan(library.gemm(), shape, m, spec))
    assert warm == fresh
    assert len({gp.loops for plans in warm for gp in plans}) == len(specs)
